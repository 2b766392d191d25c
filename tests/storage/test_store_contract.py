"""The store's contract: every method of `Store`, the same from SQLite and from memory."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Generic, Protocol

import pytest

from bot.core.engine import Engine
from bot.core.reports import Report
from bot.core.types import Asked, Session
from bot.service.conversation import Conversations
from bot.storage.memory import MemoryStore
from bot.storage.sqlite import SqliteStore
from bot.storage.store import (
    INBOX_TRIES,
    INBOX_TTL,
    MESSAGE_IDS_TTL,
    SESSION_TTL,
    STAFF_POSTS_TTL,
    PersonKey,
    Store,
    StoreUnavailable,
)
from tests.conftest import TUESDAY_3PM
from tests.core.test_reporting import SEND, fill_form

# People's keys as the service makes them (an HMAC each); here, short and readable.
K1 = PersonKey("k1")
K2 = PersonKey("k2")

NOW = TUESDAY_3PM.timestamp()
WEEK = 7 * 86400.0  # how long an update's id is kept, so a redelivery is not run twice


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    sqlite = SqliteStore(tmp_path / "bot.db")
    yield sqlite
    sqlite.close()


def report(reference: str, created: datetime = TUESDAY_3PM, contact: str = "") -> Report:
    """A noise report filed at `created`."""
    return Report(
        reference=reference,
        created_at=created.isoformat(timespec="seconds"),
        lang="so",
        channel="telegram",
        category="noise",
        what="Muusig qaylo badan, flat 3",
        where="Golborne Road W10 5NR",
        in_borough="yes",
        when="week",
        ongoing="yes",
        contact=contact,
    )


def raw_bytes(path: Path) -> bytes:
    """Every byte of the database and its side files, as they lie on disk."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


def test_both_stores_have_every_method_of_the_protocol_with_its_arguments() -> None:
    sides = [side for side in Store.__mro__ if side not in (Store, Protocol, object, Generic)]
    methods = {n for side in sides for n, v in vars(side).items()
               if inspect.isfunction(v) and n[0] != "_"}  # fmt: skip
    assert len(methods) == 18  # the suite below covers each one; a new method needs a test
    # Each narrow side of the store is one concern; together they are the whole store.
    assert [s.__name__ for s in sides] == [
        "Sessions",
        "Reports",
        "InboxRows",
        "MessageIds",
        "Upkeep",
    ]
    for name in methods:
        wanted = list(inspect.signature(getattr(Store, name)).parameters)
        for impl in (SqliteStore, MemoryStore):
            assert list(inspect.signature(getattr(impl, name)).parameters) == wanted, (impl, name)


def test_a_session_is_kept_for_a_day_without_messages_then_gone(store: Store) -> None:
    store.save_session(K1, Session("so", "tips", NOW, topic="youth"))
    store.save_session(K1, Session("ar", "menu", NOW + 10))  # the same person again
    assert store.load_session(K1, NOW + 10 + SESSION_TTL) == Session("ar", "menu", NOW + 10)
    assert store.load_session(K1, NOW + 10 + SESSION_TTL + 1) is None
    assert store.load_session(PersonKey("nobody"), NOW) is None


def test_a_session_comes_back_as_its_own_copy_without_the_report_answers(store: Store) -> None:
    asked = Asked("who", ("abuse.partner", "abuse.own"))
    where = {"results": ("angelou",), "came_from": "help", "asked": asked, "topic": "vawg",
             "topic_page": 2, "after_lang": "tips"}  # fmt: skip
    kept = Session("fa", "ask", NOW, draft={"what": "دزدی"}, **where)  # type: ignore[arg-type]
    store.save_session(K1, kept)
    kept.results = ("changed after saving",)
    loaded = store.load_session(K1, NOW)
    # Where the person was comes back; what they typed for a report is never written.
    assert loaded == Session("fa", "ask", NOW, **where)  # type: ignore[arg-type]
    assert loaded is not None and loaded is not kept
    loaded.topic = "changed after loading"
    again = store.load_session(K1, NOW)
    assert again is not None and again.topic == "vawg"


def test_forget_erases_the_persons_session_reports_and_message_ids_and_nothing_else(
    store: Store,
) -> None:
    mine = report("KC-AAA-333", contact="07700 900123")
    anonymous = report("KC-AAA-444")
    theirs = report("KC-AAA-666", contact="me@example.org")
    store.commit(K1, Session("en", "menu", NOW), mine, K1, "u1")
    store.commit(K1, Session("en", "menu", NOW), anonymous, None, "u2")  # carries no key
    store.commit(K2, Session("en", "menu", NOW), theirs, K2, "u3")
    store.keep_message_ids([(K1, 5, NOW), (K2, 6, NOW)])
    store.forget(K1)
    assert store.load_session(K1, NOW) is None
    assert store.load_session(K2, NOW) == Session("en", "menu", NOW)
    assert store.reports() == [anonymous, theirs]
    assert store.unposted() == [(anonymous, 0), (theirs, 0)]
    assert store.take_message_ids(K1) == []
    assert store.take_message_ids(K2) == [(NOW, 6)]
    store.forget(
        PersonKey("nobody")
    )  # forgetting someone unknown is no error, and erases no one else
    assert len(store.reports()) == 2


def test_stats_add_up_the_counts_by_kind_language_and_channel(store: Store) -> None:
    assert store.stats() == {"by_lang": {}, "by_channel": {}}
    store.record("2026-11-24", "telegram", "so", [("topic", "youth"), ("topic", "vawg")])
    store.record("2026-11-24", "telegram", "so", [("topic", "youth"), ("screen", "menu")])
    store.record("2026-11-25", "whatsapp", "ar", [("topic", "youth")])
    store.record("2026-11-25", "console", "en", [])  # a turn with nothing to count
    stats = store.stats()
    assert stats == {
        "topic": {"youth": 3, "vawg": 1},
        "screen": {"menu": 1},
        "by_lang": {"so": 4, "ar": 1},
        "by_channel": {"telegram": 4, "whatsapp": 1},
    }
    assert list(stats["topic"]) == ["youth", "vawg"]  # largest first, as `bot stats` prints


def test_commit_saves_the_session_files_the_report_and_marks_the_update(store: Store) -> None:
    filed = report("KC-7HX-4QM", contact="07700 900123")
    store.commit(
        K1,
        Session("so", "report.done", NOW, topic="vawg"),
        filed,
        K1,
        "upd-1",
    )
    assert store.load_session(K1, NOW) == Session("so", "report.done", NOW, topic="vawg")
    assert store.reports() == [filed]  # every field, the contact too
    assert store.processed("upd-1") == (True, "KC-7HX-4QM")
    assert store.processed("upd-2") == (False, None)
    assert store.unposted() == [(filed, 0)]  # waiting for the staff chat


def test_commit_without_a_session_drops_it_and_without_a_report_files_none(store: Store) -> None:
    store.save_session(K1, Session("en", "menu", NOW))
    store.commit(K1, None, None, None, "upd-1")  # quick exit
    assert store.load_session(K1, NOW) is None
    assert store.processed("upd-1") == (True, None)  # handled, with no reference to give
    store.commit(K2, Session("en", "tips", NOW), None, None, None)  # no update id (console)
    assert store.load_session(K2, NOW) == Session("en", "tips", NOW)
    assert store.reports() == [] and store.unposted() == []


def test_a_second_commit_of_the_same_update_files_no_second_report(store: Store) -> None:
    filed = report("KC-7HX-4QM")
    store.commit(K1, Session("en", "report.done", NOW), filed, None, "upd-1")
    with pytest.raises(StoreUnavailable):  # the reference is taken: all of the commit undone
        store.commit(K1, Session("en", "menu", NOW + 5), filed, None, "upd-1")
    assert store.reports() == [filed]
    assert store.unposted() == [(filed, 0)]
    assert store.processed("upd-1") == (True, "KC-7HX-4QM")
    assert store.load_session(K1, NOW + 5) == Session("en", "report.done", NOW)


def test_a_redelivered_update_is_answered_from_the_store_and_files_once(
    engine: Engine, store: Store
) -> None:
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: NOW)
    _confirm, send = fill_form(conv)
    [first] = send(SEND, "upd-9")
    [again] = send(SEND, "upd-9")  # Telegram delivers the same update again
    [filed] = store.reports()
    assert filed.reference in first.text and filed.reference in again.text
    assert filed.what == "Loud music from flat 3 every night"
    assert store.processed(conv.key("telegram", "update:upd-9")) == (True, filed.reference)


def test_reports_come_oldest_first_and_since_keeps_those_on_or_after_the_date(
    store: Store,
) -> None:
    monday, tuesday, wednesday = (TUESDAY_3PM + timedelta(days=d) for d in (-1, 0, 1))
    late = report("KC-CCC-333", wednesday)
    early = report("KC-AAA-333", monday)
    middle = report("KC-DDD-333", tuesday)
    for key, filed in (
        (K1, late),
        (K2, early),
        (PersonKey("k3"), middle),
    ):  # filed out of date order
        store.commit(key, None, filed, None, None)
    assert store.reports() == [early, middle, late]
    assert store.reports(since="2026-11-24") == [middle, late]
    assert store.reports(since=tuesday.isoformat(timespec="seconds")) == [middle, late]
    assert store.reports(since="2026-11-25") == [late]
    assert store.reports(since="2026-11-26") == []


def test_purge_drops_expired_sessions_and_old_reports_and_keeps_recent_ones(store: Store) -> None:
    store.save_session(PersonKey("stale"), Session("en", "menu", NOW - SESSION_TTL - 1))
    store.save_session(PersonKey("last_day"), Session("en", "menu", NOW - SESSION_TTL))
    store.save_session(PersonKey("fresh"), Session("en", "menu", NOW))
    old = report("KC-AAA-333", TUESDAY_3PM - timedelta(days=366))
    year = report("KC-AAA-444", TUESDAY_3PM - timedelta(days=365))  # exactly a year: kept
    month = report("KC-AAA-666", TUESDAY_3PM - timedelta(days=40))
    recent = report("KC-AAA-777", TUESDAY_3PM - timedelta(days=1))
    for filed in (old, year, month, recent):
        store.commit(PersonKey("anyone"), None, filed, None, None)
    assert store.purge(NOW) == (1, 1)
    assert (
        store.load_session(PersonKey("stale"), NOW - SESSION_TTL) is None
    )  # gone, not merely expired
    assert store.load_session(PersonKey("last_day"), NOW - SESSION_TTL) is not None
    assert store.load_session(PersonKey("fresh"), NOW) is not None
    assert store.reports() == [year, month, recent]
    assert [r for r, _ in store.unposted()] == [year, month, recent]
    assert store.purge(NOW) == (0, 0)  # nothing more to drop
    assert store.purge(NOW, report_days=30) == (0, 2)  # a council's shorter retention
    assert store.reports() == [recent] and store.unposted() == [(recent, 0)]


def test_purge_forgets_an_updates_id_after_a_week(store: Store) -> None:
    store.commit(K1, None, None, None, "upd-1")
    marked = time.time()  # the store stamps an update with the clock, not with `now`
    store.purge(marked + WEEK - 60)
    assert store.processed("upd-1") == (True, None)
    store.purge(marked + WEEK + 60)
    assert store.processed("upd-1") == (False, None)


def test_purge_leaves_a_report_unposted_for_a_week_then_to_the_export(store: Store) -> None:
    filed = report("KC-7HX-4QM", datetime.now(UTC))
    store.commit(K1, None, filed, None, None)
    stamped = time.time()  # when it joined the staff chat's queue
    store.purge(stamped + STAFF_POSTS_TTL - 60)
    assert store.unposted() == [(filed, 0)]
    store.purge(stamped + STAFF_POSTS_TTL + 60)
    assert store.unposted() == []
    assert store.reports() == [filed]  # still there for the export


def test_purge_drops_message_ids_after_48_hours_and_inbox_rows_after_an_hour(
    store: Store,
) -> None:
    store.keep_message_ids([(K1, 1, NOW - MESSAGE_IDS_TTL - 1), (K1, 2, NOW - MESSAGE_IDS_TTL)])
    store.inbox_add("telegram", [b"stale"], NOW - INBOX_TTL - 1)
    [fresh] = store.inbox_add("telegram", [b"fresh"], NOW - INBOX_TTL)
    assert store.purge(NOW) == (0, 0)  # neither is a session or a report
    assert store.take_message_ids(K1) == [(NOW - MESSAGE_IDS_TTL, 2)]
    assert store.inbox_unfinished("telegram", NOW - INBOX_TTL) == [(fresh, b"fresh")]


def test_message_ids_are_kept_once_per_message_and_taken_once(store: Store) -> None:
    store.keep_message_ids([(K1, 20, NOW), (K1, 10, NOW + 1), (K2, 3, NOW)])
    store.keep_message_ids([(K1, 20, NOW + 9)])  # the same message again: the first kept
    store.keep_message_ids([])
    assert sorted(store.take_message_ids(K1)) == [(NOW, 20), (NOW + 1, 10)]
    assert store.take_message_ids(K1) == []  # quick exit has them now
    assert store.take_message_ids(K2) == [(NOW, 3)]


def test_inbox_rows_come_back_unfinished_until_done(store: Store) -> None:
    rows = store.inbox_add("telegram", [b'{"update_id": 1}', b'{"update_id": 2}'], NOW)
    [other] = store.inbox_add("whatsapp", [b'{"entry": []}'], NOW)
    assert store.inbox_add("telegram", [], NOW) == []
    assert len({*rows, other}) == 3 and rows == sorted(rows)
    assert store.inbox_unfinished("telegram", NOW) == [
        (rows[0], b'{"update_id": 1}'),
        (rows[1], b'{"update_id": 2}'),
    ]
    store.inbox_done(rows[0])
    store.inbox_done(rows[0])  # done twice is no error
    assert store.inbox_unfinished("telegram", NOW) == [(rows[1], b'{"update_id": 2}')]
    assert store.inbox_unfinished("whatsapp", NOW) == [(other, b'{"entry": []}')]
    [later] = store.inbox_add("telegram", [b'{"update_id": 3}'], NOW)
    assert later > max(*rows, other)  # a row number is never given twice


def test_an_update_in_hand_at_three_crashes_in_a_row_is_dropped(store: Store) -> None:
    [row] = store.inbox_add("telegram", [b"poison"], NOW)
    for _ in range(INBOX_TRIES):
        assert store.inbox_unfinished("telegram", NOW) == [(row, b"poison")]
    assert store.inbox_unfinished("telegram", NOW) == []
    assert store.inbox_unfinished("telegram", NOW) == []  # dropped, not merely skipped


def test_an_update_older_than_an_hour_at_restart_is_dropped_in_its_channel_only(
    store: Store,
) -> None:
    [tg] = store.inbox_add("telegram", [b"tg"], NOW)
    [wa] = store.inbox_add("whatsapp", [b"wa"], NOW)
    assert store.inbox_unfinished("telegram", NOW + INBOX_TTL) == [(tg, b"tg")]
    assert store.inbox_unfinished("telegram", NOW + INBOX_TTL + 1) == []
    assert store.inbox_unfinished("whatsapp", NOW + INBOX_TTL) == [(wa, b"wa")]


def test_unposted_lists_a_new_report_until_its_post_is_done(store: Store) -> None:
    first = report("KC-FFF-333", TUESDAY_3PM)
    second = report("KC-AAA-333", TUESDAY_3PM - timedelta(hours=1))  # filed second
    store.commit(K1, None, first, None, None)
    store.commit(K2, None, second, None, None)
    assert store.unposted() == [(first, 0), (second, 0)]  # in the order they were filed
    store.post_progress(first.reference, 1, done=False)  # part 1 of 2 went out
    assert store.unposted() == [(first, 1), (second, 0)]
    store.post_progress(first.reference, 2, done=True)
    assert store.unposted() == [(second, 0)]
    store.post_progress(first.reference, 1, done=False)  # a late note revives nothing
    store.post_progress("KC-XXX-999", 1, done=False)  # nor invents a report
    assert store.unposted() == [(second, 0)]
    assert store.reports() == [second, first]  # posting takes nothing from the reports


def test_tidy_keeps_what_is_in_hand_and_leaves_no_copy_of_what_is_done(
    store: Store, tmp_path: Path
) -> None:
    done, pending = b"DONE-update-Leila-22-Golborne", b"PENDING-update-flat-3"
    rows = store.inbox_add("telegram", [done, pending], NOW)
    store.inbox_done(rows[0])
    store.tidy()
    store.tidy()  # twice is no error
    assert store.inbox_unfinished("telegram", NOW) == [(rows[1], pending)]
    if isinstance(store, SqliteStore):
        on_disk = raw_bytes(tmp_path / "bot.db")
        assert pending in on_disk and done not in on_disk


def test_ping_passes_and_leaves_everything_as_it_was(store: Store) -> None:
    store.ping()
    store.save_session(K1, Session("en", "menu", NOW))
    store.record("2026-11-24", "telegram", "en", [("topic", "youth")])
    store.ping()
    assert store.load_session(K1, NOW) == Session("en", "menu", NOW)
    assert store.stats()["topic"] == {"youth": 1}
    if isinstance(store, SqliteStore):
        store.close()
        with pytest.raises(StoreUnavailable):  # what /healthz reports as down
            store.ping()
