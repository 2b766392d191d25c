"""A database that is locked by another process, or full: people are answered, nothing is lost."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import pytest

from bot.core.engine import Engine
from bot.core.types import Inbound
from bot.service.conversation import Conversations
from bot.storage.sqlite import SqliteStore
from bot.storage.store import StoreUnavailable, load_secret
from tests.core.test_reporting import ANONYMOUS, FORM, SEND

WHAT = "Loud music from flat 3 every night"  # typed in FORM

# Another process takes the write lock and keeps it until told to let go.
HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("begin exclusive")
print("locked", flush=True)
sys.stdin.readline()
db.execute("rollback")
"""


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """The database's write lock held by another process for the duration."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        try:
            assert holder.stdout.readline().strip() == "locked"
            yield
        finally:
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(10)


@pytest.fixture
def conv(engine: Engine, tmp_path: Path) -> Iterator[Conversations]:
    """Conversations over a SQLite file that gives up on a lock after a fifth of a second."""
    store = SqliteStore(tmp_path / "bot.db", busy_timeout=0.2)
    yield Conversations(engine, store, load_secret(tmp_path))
    store.close()


def to_confirmation(conv: Conversations) -> None:
    """Fill in the report form up to its Send button."""
    for inbound in FORM:
        conv.handle("telegram", "u1", inbound)
    [confirm] = conv.handle("telegram", "u1", ANONYMOUS)
    assert WHAT in confirm.text


def test_a_locked_database_still_gives_999_first(conv: Conversations, tmp_path: Path) -> None:
    conv.handle("telegram", "u1", Inbound.command("start", lang_hint="en"))
    with locked(tmp_path / "bot.db"):
        replies = conv.handle("telegram", "u1", Inbound.message("he has a knife outside my door"))
    assert "999" in replies[0].text and "55" in replies[0].text


def test_a_report_sent_while_locked_is_not_lost(
    conv: Conversations, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    to_confirmation(conv)
    with locked(tmp_path / "bot.db"):
        [sorry] = conv.handle("telegram", "u1", SEND, "upd-1")
    assert "your report was not saved" in sorry.text and "101" in sorry.text
    assert [c.id for c in sorry.choices] == ["act:file_report", "act:cancel_report"]
    assert conv.store.reports() == []
    # Once the lock is gone, Send again files it, with every answer kept.
    [done] = conv.handle("telegram", "u1", SEND, "upd-2")
    [report] = conv.store.reports()
    assert report.what == WHAT and report.reference in done.text
    assert "could not save: OperationalError" in caplog.text
    assert WHAT not in caplog.text


def fill_up(path: Path) -> sqlite3.Connection:
    """Make the database full: no room in the reports table, and no new pages allowed."""
    db = sqlite3.connect(path, isolation_level=None)
    row = {"reference": "", "created_at": "2000-01-01", "what": "x" * 300}
    n = 0
    while True:
        try:
            cap = db.execute("pragma page_count").fetchone()[0]
            db.execute(f"pragma max_page_count = {cap}")
            db.execute(
                "insert into reports (reference, created_at, what) values (?, ?, ?)",
                [f"FILL-{n}", row["created_at"], row["what"]],
            )
            n += 1
        except sqlite3.OperationalError as exc:
            assert "full" in str(exc)
            return db


def test_a_full_disk_when_sending_a_report_writes_nothing_and_says_so(
    conv: Conversations, tmp_path: Path
) -> None:
    to_confirmation(conv)
    db = cast(SqliteStore, conv.store).db
    before = dict(db.execute("select key, node from sessions").fetchall())
    filler = fill_up(tmp_path / "bot.db")
    cap = filler.execute("pragma max_page_count").fetchone()[0]
    db.execute(f"pragma max_page_count = {cap}")  # the bot's connection sees it too
    [sorry] = conv.handle("telegram", "u1", SEND, "upd-1")
    assert "your report was not saved" in sorry.text
    # Nothing half-written: no report row, the session still at the form, the update not marked.
    assert WHAT not in json.dumps([r.what for r in conv.store.reports()])
    assert dict(db.execute("select key, node from sessions").fetchall()) == before
    assert conv.store.processed(conv.key("telegram", "update:upd-1")) == (False, None)
    # Space again (an operator cleared the disk): the same button files the same report.
    filler.execute("delete from reports where reference like 'FILL-%'")
    filler.close()
    db.execute("pragma max_page_count = 1073741823")
    [done] = conv.handle("telegram", "u1", SEND, "upd-1")
    [report] = conv.store.reports()
    assert report.what == WHAT and report.reference in done.text


def test_forget_me_on_a_locked_database_does_not_pretend(
    conv: Conversations, tmp_path: Path
) -> None:
    conv.handle("telegram", "u1", Inbound.command("start", lang_hint="en"))
    conv.handle("telegram", "u1", Inbound.command("forget"))
    with locked(tmp_path / "bot.db"):
        [sorry] = conv.handle("telegram", "u1", Inbound.choice("act:forget_confirmed"))
    assert "could not erase" in sorry.text
    assert conv.store.load_session(conv.key("telegram", "u1"), conv._clock()) is not None


def test_answers_typed_into_the_form_while_the_disk_refuses_writes_stay_answers(
    conv: Conversations, tmp_path: Path
) -> None:
    start, topic, leave, what, where, when, ongoing = FORM
    for inbound in (start, topic):
        conv.handle("telegram", "u1", inbound)
    with locked(tmp_path / "bot.db"):  # nothing can be written for these turns
        conv.handle("telegram", "u1", leave)
        [asked] = conv.handle("telegram", "u1", what)  # an answer, not a question to look up
        assert "where" in asked.text.lower()
        conv.handle("telegram", "u1", where)
        [asked] = conv.handle("telegram", "u1", when)  # the button still means what it said
        assert [c.id for c in asked.choices][:1] == [
            "report.form.ongoing#ongoing=yes>report.form.contact"
        ]
    conv.handle("telegram", "u1", ongoing)
    [confirm] = conv.handle("telegram", "u1", ANONYMOUS)
    assert WHAT in confirm.text and "Golborne Road W10 5NR" in confirm.text
    [done] = conv.handle("telegram", "u1", SEND)
    [report] = conv.store.reports()
    assert report.what == WHAT and report.reference in done.text


def test_a_locked_database_raises_the_stores_own_error(engine: Engine, tmp_path: Path) -> None:
    # Callers catch StoreUnavailable, never sqlite3's errors: a second store behaves the same.
    store = SqliteStore(tmp_path / "bot.db", busy_timeout=0.2)
    try:
        with locked(tmp_path / "bot.db"), pytest.raises(StoreUnavailable) as caught:
            store.record("2026-12-04", "telegram", "en", [("screen", "menu")])
        assert not isinstance(caught.value, sqlite3.Error)
        assert str(caught.value) == "OperationalError"
    finally:
        store.close()
