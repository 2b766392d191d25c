"""Storage: the same behaviour from SQLite and memory; nothing a person typed is kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.core.engine import Engine
from bot.core.types import Inbound, Session
from bot.service.conversation import Conversations
from bot.storage.memory import MemoryStore
from bot.storage.sqlite import SqliteStore
from bot.storage.store import MESSAGE_IDS_TTL, SESSION_TTL, PersonKey, Store, load_secret
from tests.conftest import TUESDAY_3PM

# People's keys as the service makes them (an HMAC each); here, short and readable.
K1 = PersonKey("k1")
K2 = PersonKey("k2")
K = PersonKey("k")

NOW = TUESDAY_3PM.timestamp()


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return SqliteStore(tmp_path / "bot.db") if request.param == "sqlite" else MemoryStore()


def test_session_round_trip_and_expiry(store: Store) -> None:
    store.save_session(K1, Session("fa", "tips", NOW, topic="vawg"))
    assert store.load_session(K1, NOW + 60) == Session("fa", "tips", NOW, topic="vawg")
    assert store.load_session(K1, NOW + SESSION_TTL + 1) is None
    assert store.purge(NOW + SESSION_TTL + 1) == (1, 0)


def test_forget_removes_the_session(store: Store) -> None:
    store.save_session(K1, Session("en", "menu", NOW))
    store.save_session(K2, Session("en", "menu", NOW))
    store.forget(K1)
    assert store.load_session(K1, NOW) is None
    assert store.load_session(K2, NOW) is not None


def test_message_ids_are_taken_once_and_go_with_forget_and_after_48_hours(store: Store) -> None:
    store.keep_message_ids([(K1, 10, NOW), (K1, 11, NOW + 1), (K2, 3, NOW)])
    store.keep_message_ids([(K1, 11, NOW + 1)])  # written twice, kept once
    assert store.take_message_ids(K1) == [(NOW, 10), (NOW + 1, 11)]
    assert store.take_message_ids(K1) == []  # taken: quick exit deleted them
    store.forget(K2)
    assert store.take_message_ids(K2) == []
    k3 = PersonKey("k3")
    store.keep_message_ids([(k3, 1, NOW), (k3, 2, NOW + MESSAGE_IDS_TTL)])
    store.purge(NOW + MESSAGE_IDS_TTL + 1)
    assert store.take_message_ids(k3) == [(NOW + MESSAGE_IDS_TTL, 2)]


def test_events_are_aggregated(store: Store) -> None:
    assert store.stats() == {"by_lang": {}, "by_channel": {}}
    store.record("2026-11-24", "console", "so", [("topic", "youth"), ("topic", "youth")])
    store.record("2026-11-24", "console", "so", [("topic", "youth")])
    store.record("2026-11-25", "telegram", "ar", [("topic", "vawg"), ("screen", "menu")])
    assert store.stats() == {
        "topic": {"youth": 3, "vawg": 1},
        "screen": {"menu": 1},
        "by_lang": {"so": 3, "ar": 2},
        "by_channel": {"console": 3, "telegram": 2},
    }  # the same from both stores


def test_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    first = load_secret(tmp_path)
    assert load_secret(tmp_path) == first and len(first) == 32
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def dump(path: Path) -> str:
    conn = sqlite3.connect(path)
    text = "\n".join(str(row) for row in conn.iterdump())
    conn.close()
    return text


def test_a_conversation_without_a_report_leaves_no_words_or_ids(
    engine: Engine, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: NOW)
    conv.handle("telegram", "123456789", Inbound.command("start", lang_hint="en"))
    conv.handle("telegram", "123456789", Inbound.message("Leila at 22 Golborne Road hits me"))
    conv.handle("telegram", "123456789", Inbound.choice("topic:vawg"))
    store.close()
    text = dump(tmp_path / "bot.db")
    for word in ("Leila", "Golborne", "hits", "123456789"):
        assert word not in text
    assert "vawg" in text  # the aggregate count is there, with no key


def test_quick_exit_and_forget_leave_no_session(engine: Engine, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: NOW)
    key = conv.key("telegram", "42")
    conv.handle("telegram", "42", Inbound.command("start", lang_hint="ar"))
    assert store.load_session(key, NOW) is not None
    conv.handle("telegram", "42", Inbound.command("exit"))
    assert store.load_session(key, NOW) is None
    conv.handle("telegram", "42", Inbound.command("forget", lang_hint="ar"))
    conv.handle("telegram", "42", Inbound.choice("act:forget_confirmed"))
    assert store.load_session(key, NOW) is None
    assert next(iter(store.db.query("select count(*) n from sessions")))["n"] == 0


def test_keys_are_hmacs_not_ids(engine: Engine) -> None:
    conv = Conversations(engine, MemoryStore(), b"s" * 32)
    key = conv.key("telegram", "42")
    assert "42" not in key and len(key) == 32
    assert key != Conversations(engine, MemoryStore(), b"t" * 32).key("telegram", "42")
    assert key != conv.key("whatsapp", "42")


async def test_feed_orders_one_persons_messages(engine: Engine) -> None:
    store = MemoryStore()
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: NOW)
    await conv.feed("console", "p", Inbound.command("start", lang_hint="en"))
    replies = await conv.feed("console", "p", Inbound.choice("tips"))
    assert "tips.fraud" in [c.id for c in replies[0].choices]


def test_engine_failure_becomes_an_apology(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    conv = Conversations(engine, MemoryStore(), b"s" * 32, clock=lambda: NOW)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(engine, "handle", boom)
    [reply] = conv.handle("console", "p", Inbound.message("hello"))
    assert "something went wrong" in reply.text
    assert "secret detail" not in reply.text
    assert [c.id for c in reply.choices] == ["menu"]


def raw_bytes(path: Path) -> bytes:
    """Every byte of the database and its side files, as they lie on disk."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


def test_forget_me_leaves_the_words_in_no_file_while_the_bot_runs(
    engine: Engine, tmp_path: Path
) -> None:
    from tests.core.test_reporting import fill_form

    path = tmp_path / "bot.db"
    store = SqliteStore(path)
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: NOW)
    _confirm, send = fill_form(conv, contact="07700 900123")  # a report linked to the person
    send(Inbound.choice("act:file_report"))
    assert b"Loud music from flat 3" in raw_bytes(path)
    assert len(store.reports()) == 1
    store.forget(conv.key("telegram", "u1"))
    # Still open, as under `bot run`: neither the database, its free pages nor the WAL keep it.
    assert b"Loud music from flat 3" not in raw_bytes(path)
    assert b"07700 900123" not in raw_bytes(path)
    store.close()


def test_database_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = SqliteStore(path)
    store.save_session(K, Session("en", "menu", NOW))
    files = [p for p in tmp_path.glob("bot.db*") if p.is_file()]
    assert {p.name for p in files} >= {"bot.db", "bot.db-wal"}
    for p in files:
        assert p.stat().st_mode & 0o077 == 0, p.name
    store.close()


def test_a_stored_session_that_cannot_be_read_comes_back_plain_never_as_an_error() -> None:
    for junk in ("not json", "[1, 2]", '{"results": 5, "ask": "x", "topic_page": -3}'):
        assert Session.restored("en", "menu", junk, NOW) == Session("en", "menu", NOW), junk
    # What an older version wrote: the places it knew come back, anything else is left out.
    old = (
        '{"results": ["angelou"], "ask": {"kind": "danger", "options": []}, "draft": {"what": "x"}}'
    )
    back = Session.restored("en", "ask", old, NOW)
    assert back.results == ("angelou",) and back.asked is not None and back.draft == {}
