"""The engine process: turns run in a child, reports come back, a dead or stuck one is replaced."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.engine import Engine
from bot.core.reports import Report
from bot.core.types import Inbound
from bot.service import worker
from bot.service.conversation import Conversations
from bot.service.worker import EngineProcess
from bot.storage.sqlite import SqliteStore
from bot.storage.store import load_secret
from tests.core.test_reporting import ANONYMOUS, FORM, SEND

# A child that says it is ready and then never answers.
STUCK = f"""
import sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from bot.service.worker import READY, frame
sys.stdout.buffer.write(frame(READY)); sys.stdout.buffer.flush()
time.sleep(60)
"""


@pytest.fixture
async def remote(tmp_path: Path, engine: Engine) -> AsyncIterator[Conversations]:
    """Conversations whose turns run in a real engine process over a database in tmp_path."""
    store = SqliteStore(tmp_path / "bot.db")
    process = EngineProcess(tmp_path / "bot.db", tmp_path)
    conv = Conversations(engine, store, load_secret(tmp_path), remote=process)
    await process.start()
    try:
        yield conv
    finally:
        await process.close()
        store.close()


async def test_turns_run_in_the_child_and_reports_come_back(remote: Conversations) -> None:
    filed: list[Report] = []
    remote.report_listeners.append(filed.append)
    for inbound in FORM:
        await remote.feed("telegram", "u1", inbound)
    [confirm] = await remote.feed("telegram", "u1", ANONYMOUS)
    # The words typed into the form live in the child's memory, and come back to be checked.
    assert "Loud music from flat 3 every night" in confirm.text
    assert remote.store.reports() == []
    [done] = await remote.feed("telegram", "u1", SEND, update_id="upd-1")
    [report] = filed
    assert report.reference in done.text and report.what == "Loud music from flat 3 every night"
    # The child wrote it to the shared database; a redelivered update files nothing more.
    assert [r.reference for r in remote.store.reports()] == [report.reference]
    [again] = await remote.feed("telegram", "u1", SEND, update_id="upd-1")
    assert report.reference in again.text and len(filed) == 1


async def test_a_dead_child_is_replaced_on_the_next_turn(remote: Conversations) -> None:
    await remote.feed("telegram", "u2", Inbound.command("start", lang_hint="fr"))
    assert remote.remote is not None
    process = remote.remote._proc
    assert process is not None
    process.kill()
    await process.wait()
    [menu] = await remote.feed("telegram", "u2", Inbound.command("start"))
    assert "Appelez le 999" in menu.text  # answered at once, and the session was kept: French
    replies = await remote.feed("telegram", "u2", Inbound.typed("voisins bruyants la nuit"))
    assert remote.remote.alive and remote.remote._proc is not process  # typed words: a new child
    assert replies and replies[0].lang == "fr"


async def test_a_stuck_child_gets_an_apology_in_the_persons_language(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    conv = Conversations(engine, store, load_secret(tmp_path))
    conv.handle("telegram", "u3", Inbound.command("start", lang_hint="es"))
    process = EngineProcess(tmp_path / "bot.db", tmp_path)
    process._argv = [sys.executable, "-c", STUCK]
    conv.remote = process
    monkeypatch.setattr(worker, "TURN_TIMEOUT", 0.5)
    await process.start()
    try:
        [sorry] = await conv.feed("telegram", "u3", Inbound.message("hola"))
        assert sorry.text.startswith("Lo sentimos, algo ha fallado")
        assert not process.alive  # killed, so the next turn starts a fresh one
    finally:
        await process.close()
        store.close()


async def test_a_child_that_cannot_start_is_reported(tmp_path: Path) -> None:
    process = EngineProcess(tmp_path / "bot.db", tmp_path)
    process._argv = [sys.executable, "-c", "import sys; sys.exit(3)"]
    with pytest.raises(worker.WorkerError, match="did not start"):
        await process.start()


async def test_close_lets_the_child_finish_and_exit(tmp_path: Path) -> None:
    process = EngineProcess(tmp_path / "bot.db", tmp_path)
    await process.start()
    child = process._proc
    assert child is not None
    await asyncio.wait_for(process.close(), 15)
    assert child.returncode == 0 and not process.alive


async def test_a_child_that_dies_between_turns_comes_back_by_itself(
    remote: Conversations, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "REVIVE_DELAY", 0.05)
    assert remote.remote is not None
    process = remote.remote._proc
    assert process is not None
    process.kill()
    for _ in range(300):  # the health check would say "not running" only until it is back
        await asyncio.sleep(0.05)
        if remote.remote.alive and remote.remote._proc is not process:
            break
    assert remote.remote.alive and remote.remote._proc is not process


async def test_buttons_and_commands_are_answered_while_the_child_starts(
    tmp_path: Path, engine: Engine
) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    process = EngineProcess(tmp_path / "bot.db", tmp_path)  # not started yet
    conv = Conversations(engine, store, load_secret(tmp_path), remote=process)
    try:
        [menu] = await conv.feed("telegram", "5", Inbound.command("start", "en"))
        assert "999" in menu.text
        [tips] = await conv.feed("telegram", "5", Inbound.choice("tips"))
        assert "tips.home" in [c.id for c in tips.choices]
        assert not process.alive  # answered here: nothing waited for the child
        # Typed words need the model: they wait for the child, which starts for them.
        [found] = await conv.feed("telegram", "5", Inbound.typed("noisy neighbours every night"))
        assert process.alive and "Streetline" in found.text
    finally:
        await process.close()
        store.close()
