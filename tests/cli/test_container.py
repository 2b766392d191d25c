"""The container: what the Dockerfile promises, and the health check it runs."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import socket
import sys
from pathlib import Path

from bot.channels.server import server
from bot.channels.web import create_app
from bot.storage.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def stages() -> list[list[str]]:
    """The Dockerfile's instructions, continuation lines joined, split into stages."""
    joined = DOCKERFILE.replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    found: list[list[str]] = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            found.append([])
        found[-1].append(line)
    return found


def instruction(stage: list[str], name: str) -> list[str]:
    """The arguments of every `name` instruction in a stage."""
    return [line[len(name) + 1 :] for line in stage if line.startswith(name + " ")]


def test_two_stages_the_second_without_build_tools_or_root() -> None:
    build, final = stages()
    assert instruction(build, "RUN") == ["sh scripts/image-install /opt/venv /src"]
    assert instruction(final, "USER") == ["bot"]
    assert "--uid 10001" in instruction(final, "RUN")[0]
    assert all("--from=build" in c for c in instruction(final, "COPY"))


def test_the_final_stage_keeps_data_on_a_volume_and_stops_gracefully() -> None:
    _build, final = stages()
    env = " ".join(instruction(final, "ENV"))
    assert "BOT_DATA_DIR=/data" in env and "BOT_CONTENT_DIR=/app" in env
    assert instruction(final, "VOLUME") == ['["/data"]']
    assert instruction(final, "STOPSIGNAL") == ["SIGTERM"]
    assert instruction(final, "CMD") == ['["bot", "run"]']
    [health] = instruction(final, "HEALTHCHECK")
    assert health.endswith('CMD ["bot", "health"]')


def test_everything_copied_exists_and_is_not_ignored() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for must in (".env", ".git", ".venv", "data", "secret.key", "*.db"):
        assert must in ignored, must
    build, _final = stages()
    for copy in instruction(build, "COPY"):
        for source in copy.split()[:-1]:
            assert (ROOT / source).exists(), source
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    # The CI step runs the very script the build stage runs.
    assert "scripts/image-install" in (ROOT / ".ci" / "image-check").read_text()
    assert "bash .ci/image-check" in (ROOT / ".ci" / "run").read_text()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def bot_health(port: int, data_dir: Path) -> tuple[int, str]:
    """Run `bot health` as the container does; its exit status and error output."""
    env = {**os.environ, "PORT": str(port), "BOT_DATA_DIR": str(data_dir), "NO_PROXY": "*"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "health", env=env, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_bot_health_follows_the_health_endpoint(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    alive = True
    port = free_port()
    web = server(create_app(store, engine_alive=lambda: alive), port, "127.0.0.1")
    task = asyncio.create_task(web.serve())
    try:
        while not web.started:
            await asyncio.sleep(0.02)
        assert await bot_health(port, tmp_path) == (0, "")
        alive = False
        status, err = await bot_health(port, tmp_path)
        assert status == 1 and "503" in err and "not running" in err
    finally:
        web.should_exit = True
        await task
        store.close()
    status, err = await bot_health(port, tmp_path)
    assert status == 1 and "no answer" in err
