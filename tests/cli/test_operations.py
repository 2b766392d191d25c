"""Running it: structured logs without personal data, online backups, the health check."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.channels.web import create_app
from bot.core.engine import Engine
from bot.core.types import Inbound
from bot.service.conversation import Conversations
from bot.service.logs import configure_logging, scrub
from bot.storage.sqlite import SqliteStore
from bot.storage.store import PersonKey, load_secret
from tests.cli.test_container import free_port
from tests.core.test_reporting import ANONYMOUS, FORM, SEND
from tests.fake_telegram import FakeTelegram


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """JSON log lines on the (captured) stderr for one test."""
    configure_logging("json")
    yield
    configure_logging()


def read_json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    """Every stderr line so far, as JSON objects (each must parse)."""
    err = capsys.readouterr().err
    return [json.loads(line) for line in err.splitlines() if line]


def test_json_logs_are_one_object_a_line_with_the_extra_fields(
    json_logs: object, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("bot.test").warning("turn failed", extra={"channel": "telegram"})
    [line] = read_json_lines(capsys)
    assert line["level"] == "WARNING" and line["logger"] == "bot.test"
    assert line["message"] == "turn failed" and line["channel"] == "telegram"
    assert str(line["time"]).startswith("20")  # an ISO time, not scrubbed away


def test_logs_never_carry_tokens_phone_numbers_or_chat_ids(
    json_logs: object, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("telegram.ext")  # a library's message, not one of ours
    log.error("POST https://api.telegram.org/bot123456789:AAHx5-abcdefghijklmnopqrstuvwxyz012/x")
    log.error("chat 987654321 from +44 7700 900123 and 447700900123 failed")
    try:
        raise ValueError("bad number 07700 900123")
    except ValueError:
        log.exception("failed")
    text = json.dumps(read_json_lines(capsys))
    for secret in ("AAHx5", "987654321", "7700 900123", "447700900123", "07700"):
        assert secret not in text
    assert "[token]" in text and "[phone]" in text and "[id]" in text


def test_scrub_leaves_ordinary_figures_alone() -> None:
    line = "2026-11-22T04:58:01.123+00:00 took 0.123 s for 42 updates, ref KC-7F3K2Q"
    assert scrub(line) == line


def test_plain_logs_are_scrubbed_too(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    configure_logging("text")
    try:
        logging.getLogger("bot.test").error("sent to 447700900123")
    finally:
        configure_logging()
    err = capsys.readouterr().err
    assert "ERROR bot.test: sent to [id]" in err and "447700900123" not in err


def file_report(engine: Engine, data_dir: Path, what: str = "") -> str:
    """File an anonymous report through a conversation; its reference."""
    store = SqliteStore(data_dir / "bot.db")
    conv = Conversations(engine, store, load_secret(data_dir))
    for inbound in FORM:
        conv.handle("telegram", "u1", inbound)
    conv.handle("telegram", "u1", ANONYMOUS)
    conv.handle("telegram", "u1", SEND)
    [report] = store.reports()
    store.close()
    return report.reference


async def bot_run(data_dir: Path, fake: FakeTelegram, token: str) -> asyncio.subprocess.Process:
    """`bot run` polling the fake Bot API with `token`, in a subprocess; its output piped."""
    env = {
        **os.environ,
        "BOT_DATA_DIR": str(data_dir),
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_URL": fake.url,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "NO_PROXY": "*",
        "PTB_TIMEDELTA": "1",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


def run_bot(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`bot ARGS` in a subprocess, with the data directory set."""
    env = {**os.environ, "BOT_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, check=False
    )


def test_backup_is_a_consistent_private_copy_taken_while_the_bot_writes(
    engine: Engine, tmp_path: Path
) -> None:
    reference = file_report(engine, tmp_path)
    # Another connection is mid-write (as the running bot would be) while the copy is taken.
    busy = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    busy.execute("begin immediate")
    busy.execute("insert into events values ('2026-11-22', 'telegram', 'en', 'screen', 'x', 1)")
    done = run_bot(tmp_path, "backup", str(tmp_path / "copy.db"))
    busy.execute("rollback")
    busy.close()
    assert done.returncode == 0, done.stderr
    assert "1 report(s)" in done.stdout
    copy = tmp_path / "copy.db"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert not (tmp_path / "copy.db.partial").exists()
    db = sqlite3.connect(copy)
    assert db.execute("pragma journal_mode").fetchone() == ("delete",)  # one file, no -wal
    assert db.execute("select reference from reports").fetchall() == [(reference,)]
    assert db.execute("select count(*) from events where value = 'x'").fetchone() == (0,)
    db.close()


def test_backup_into_a_folder_is_dated_and_never_overwrites(engine: Engine, tmp_path: Path) -> None:
    file_report(engine, tmp_path)
    folder = tmp_path / "backups"
    folder.mkdir()
    assert run_bot(tmp_path, "backup", str(folder)).returncode == 0
    [made] = folder.iterdir()
    assert made.name.startswith("bot-20") and made.suffix == ".db"
    again = run_bot(tmp_path, "backup", str(made))
    assert again.returncode == 2 and "exists already" in again.stderr


def test_backup_without_a_database_says_where_it_looked(tmp_path: Path) -> None:
    done = run_bot(tmp_path / "nowhere", "backup", str(tmp_path / "x.db"))
    assert done.returncode == 2 and "BOT_DATA_DIR" in done.stderr


async def test_health_check_reports_the_database_and_the_engine(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    alive = True
    app = create_app(store, engine_alive=lambda: alive)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bot"
    ) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        alive = False
        down = await client.get("/healthz")
        assert down.status_code == 503 and down.json()["engine"] == "not running"
        store.close()
        gone = await client.get("/healthz")
        assert gone.status_code == 503 and gone.json()["database"] == "unavailable"


def test_a_typed_slash_command_is_not_logged(
    engine: Engine, tmp_path: Path, json_logs: object, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    conv = Conversations(engine, store, load_secret(tmp_path))
    conv.handle("telegram", "555123456", Inbound.typed("my neighbour 07700 900123 shouts"))
    store.close()
    text = capsys.readouterr().err
    assert "555123456" not in text and "07700" not in text and "shouts" not in text


def test_a_failure_is_logged_with_a_hashed_person_not_the_chat_id(
    engine: Engine, tmp_path: Path, json_logs: object, capsys: pytest.CaptureFixture[str]
) -> None:
    gc.collect()  # an earlier test's leftovers log as they are collected: not during this one
    capsys.readouterr()
    store = SqliteStore(tmp_path / "bot.db")
    conv = Conversations(engine, store, load_secret(tmp_path))
    store.close()  # every read and write now fails
    replies = conv.handle("telegram", "555123456", Inbound.message("he has a knife outside now"))
    assert "999" in replies[0].text  # answered anyway
    lines = read_json_lines(capsys)
    assert {line["message"] for line in lines} >= {"database unavailable: ProgrammingError"}
    person = conv.key("telegram", "555123456")[:12]
    strays = [
        line for line in lines if line.get("person") != person or line["channel"] != "telegram"
    ]
    assert not strays
    assert "555123456" not in json.dumps(lines)


async def test_a_wrong_bot_token_stops_bot_run_without_printing_it(tmp_path: Path) -> None:
    async with FakeTelegram() as fake:
        proc = await bot_run(tmp_path, fake, "999:WRONGTOKENPART")
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    said = (out + err).decode()
    assert proc.returncode == 2, said
    assert "Telegram refused TELEGRAM_BOT_TOKEN" in said and "WRONGTOKENPART" not in said


async def test_bot_run_applies_the_retention_rules_every_day(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import runner
    from bot.core.types import Session

    store = SqliteStore(tmp_path / "bot.db")
    store.save_session(PersonKey("old"), Session("en", "menu", updated_at=1.0))  # idle since 1970
    monkeypatch.setattr(runner, "PURGE_EVERY", 0.05)
    stop = asyncio.Event()
    purging = asyncio.create_task(runner.purge_daily(store, 365, stop))
    await asyncio.sleep(0.02)
    assert store.db.execute("select count(*) from sessions").fetchone() == (0,)
    store.save_session(PersonKey("old"), Session("en", "menu", updated_at=1.0))
    await asyncio.sleep(0.1)  # the next day comes round
    assert store.db.execute("select count(*) from sessions").fetchone() == (0,)
    stop.set()
    await asyncio.wait_for(purging, 1)
    store.close()


def test_debug_logging_never_lets_the_libraries_log_peoples_words() -> None:
    configure_logging("text", "DEBUG")
    try:
        assert logging.getLogger("bot.service.conversation").isEnabledFor(logging.DEBUG)
        for library in ("pywa", "pywa_async", "telegram.ext", "uvicorn", "httpx"):
            assert not logging.getLogger(library).isEnabledFor(logging.DEBUG), library
    finally:
        configure_logging()


async def test_sigterm_finishes_the_message_in_hand_then_closes_the_database(
    tmp_path: Path,
) -> None:
    import signal

    async with FakeTelegram() as fake:
        proc = await bot_run(tmp_path, fake, fake.token)
        await fake.wait_for(lambda: any(c.method == "getUpdates" for c in fake.calls), 60)
        fake.delay = 1.0  # every answer from Telegram now takes a second
        fake.user_message(77, "/start")

        def sending() -> bool:
            return any(c.method == "sendMessage" and c.status == 0 for c in fake.calls)

        await fake.wait_for(sending, 30)
        proc.send_signal(signal.SIGTERM)  # while the reply is on its way
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        [reply] = fake.sent(77)
        assert "999" in reply["text"]
    assert "stopped" in err.decode()
    # Closed cleanly: the write-ahead log was folded into the database and removed.
    assert (tmp_path / "bot.db").exists() and not (tmp_path / "bot.db-wal").exists()


async def test_health_check_fails_when_the_database_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import sqlite3

    store = SqliteStore(tmp_path / "bot.db", busy_timeout=0.1)
    app = create_app(store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bot"
    ) as client:
        assert (await client.get("/healthz")).status_code == 200
        other = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
        other.execute("begin immediate")  # another process holds the write lock
        locked = await client.get("/healthz")
        assert locked.status_code == 503 and locked.json()["database"] == "unavailable"
        other.execute("rollback")
        other.close()
        real = shutil.disk_usage
        monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=1_000_000))
        full = await client.get("/healthz")
        assert full.status_code == 503 and full.json()["database"] == "disk full"
        monkeypatch.setattr(shutil, "disk_usage", real)
        assert (await client.get("/healthz")).status_code == 200
    store.close()
