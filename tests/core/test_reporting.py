"""Reporting: triage to the right channel, the report form, the Community Trigger, staff tools."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.engine import Engine
from bot.core.forms import summary
from bot.core.reports import (
    REFERENCE_ALPHABET,
    Report,
    export_csv,
    is_reference,
    new_reference,
)
from bot.core.types import Inbound, Kind
from bot.service.conversation import Conversations
from bot.storage.memory import MemoryStore
from bot.storage.sqlite import SqliteStore
from tests.conftest import TUESDAY_3PM, Chat, ids

NOW = TUESDAY_3PM.timestamp()


def triage(chat: Chat, *presses: str) -> str:
    """Walk the report flow by button labels; return the last screen's text."""
    chat.press("report")
    [reply] = chat.press("report.what")
    for label in presses:
        choice = next(c for c in reply.choices if c.label == label)
        [reply] = chat.press(choice.id)
    return reply.text


@pytest.mark.parametrize(
    ("presses", "expected"),
    [
        (["Violence or abuse"], ["101", "0800 555 111", "0808 801 0660"]),
        (["Drug dealing or use", "Yes"], ["101", "0800 555 111", "housing"]),
        (["Drug dealing or use", "No or not sure"], ["101", "Crimestoppers", "020 8960 5510"]),
        (["Noise", "Yes"], ["streetline@rbkc.gov.uk", "housing ASB team"]),
        (["Noise", "No or not sure"], ["streetline@rbkc.gov.uk"]),
        (["Rubbish or graffiti"], ["streetline@rbkc.gov.uk", "RBKCWardenService@rbkc.gov.uk"]),
        (["Begging or drinking"], ["RBKCWardenService@rbkc.gov.uk", "7am to 11pm"]),
        (["Vehicles"], ["101", "streetline@rbkc.gov.uk"]),
        (["A problem in a park"], ["0300 365 5101"]),
        (["Harassment or hate", "Yes"], ["101", "housing ASB team"]),
        (["Harassment or hate", "No or not sure"], ["101", "0800 555 111"]),
        (["Fraud or a scam"], ["0300 123 2040"]),
        (["Someone exploited"], ["08000 121 700", "999"]),
        (["Child or adult at risk"], ["020 7361 3013", "020 7373 2227"]),
        (["Something else"], ["101", "commsafe@rbkc.gov.uk"]),
    ],
)
def test_every_branch_names_the_right_channels(
    chat: Chat, presses: list[str], expected: list[str]
) -> None:
    text = triage(chat, *presses)
    for item in expected:
        assert item in text, (presses, item)


def test_danger_now_goes_to_999_first(chat: Chat) -> None:
    chat.press("report")
    [reply] = chat.press(next(c.id for c in chat.press("report")[0].choices if "danger" in c.label))
    assert "Call 999" in reply.text and "press 55" in reply.text


# A noise report up to the contact question.
FORM = (
    Inbound.command("start", lang_hint="en"),
    Inbound.choice("report.noise.other"),
    Inbound.choice("report.noise.other#category=noise>report.form"),  # Leave a report
    Inbound.message("Loud music from flat 3 every night"),
    Inbound.message("Golborne Road W10 5NR"),
    Inbound.choice("report.form.when#when=week>report.form.ongoing"),  # this week
    Inbound.choice("report.form.ongoing#ongoing=yes>report.form.contact"),  # yes
)
ANONYMOUS = Inbound.choice("report.form.contact#contact=>report.form.confirm")
SEND = Inbound.choice("act:file_report")


def fill_form(conv: Conversations, user: str = "u1", contact: str | None = None) -> list:  # type: ignore[type-arg]
    def send(inbound: Inbound, update: str | None = None) -> list:  # type: ignore[type-arg]
        return conv.handle("telegram", user, inbound, update)

    for inbound in FORM:
        send(inbound)
    if contact is None:
        [confirm] = send(ANONYMOUS)
    else:
        send(Inbound.choice("report.form.details"))
        [confirm] = send(Inbound.message(contact))
    return [confirm, send]


def test_the_form_files_an_anonymous_report_with_a_reference(engine: Engine) -> None:
    store = MemoryStore()
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: NOW)
    confirm, send = fill_form(conv)
    assert "Loud music from flat 3 every night" in confirm.text
    assert "Golborne Road W10 5NR" in confirm.text
    assert "Anonymous" in confirm.text
    assert store.reports() == []  # nothing is kept before Send
    [done] = send(Inbound.choice("act:file_report"), "upd-1")
    [(report, user_key)] = store.filed
    assert is_reference(report.reference) and report.reference in done.text
    assert report.what == "Loud music from flat 3 every night"
    assert (report.category, report.in_borough, report.when, report.ongoing) == (
        "noise", "yes", "week", "yes",
    )  # fmt: skip
    assert report.contact == "" and user_key is None  # anonymous: no key, no contact
    assert report.channel == "telegram"
    assert "sent" in done.text and "may not be able to reply" in done.text


def test_pressing_send_twice_or_redelivery_files_once(engine: Engine) -> None:
    store = MemoryStore()
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: NOW)
    _confirm, send = fill_form(conv)
    [_first] = send(Inbound.choice("act:file_report"), "upd-9")
    [again] = send(Inbound.choice("act:file_report"), "upd-9")  # the same update redelivered
    [second_press] = send(Inbound.choice("act:file_report"), "upd-10")
    assert len(store.filed) == 1
    assert store.filed[0][0].reference in again.text
    assert "already sent" in second_press.text


def test_contact_details_only_when_chosen_and_erased_by_forget(
    engine: Engine, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: NOW)
    confirm, send = fill_form(conv, contact="07700 900123 after 6pm")
    assert "07700 900123 after 6pm" in confirm.text
    send(Inbound.choice("act:file_report"))
    [report] = store.reports()
    assert report.contact == "07700 900123 after 6pm"
    send(Inbound.command("forget"))
    send(Inbound.choice("act:forget_confirmed"))
    assert store.reports() == []


def test_outside_the_borough_is_said_and_who_covers_it(chat: Chat) -> None:
    chat.press("report.form")
    chat.say("someone keeps dumping bags")
    replies = chat.say("High Street, E1 6AN")
    assert "outside Kensington and Chelsea" in replies[0].text
    assert chat.session.draft["in_borough"] == "no"
    assert chat.session.node == "report.form.when"


def test_a_shared_location_answers_where(chat: Chat) -> None:
    chat.press("report.form")
    [where] = chat.say("people drinking outside the shop")
    assert where.request_location
    chat.send(Inbound(Kind.LOCATION, location=(51.52, -0.205)))
    assert chat.session.draft["where"] == "51.5200, -0.2050"
    assert chat.session.draft["in_borough"] == "yes"


def test_danger_typed_into_the_form_gets_999_first_and_keeps_the_answer(chat: Chat) -> None:
    chat.press("report.form")
    replies = chat.say("he has a knife and is outside my door")
    assert "press 55" in replies[0].text
    assert chat.session.node == "report.form.where"


def test_cancel_forgets_the_draft(chat: Chat) -> None:
    chat.press("report.form")
    chat.say("something private")
    chat.press("report.form.confirm")
    [reply] = chat.press("act:cancel_report")
    assert "not sent" in reply.text
    assert not chat.session.draft


def test_reference_format() -> None:
    refs = {new_reference() for _ in range(500)}
    assert len(refs) == 500
    for ref in refs:
        assert is_reference(ref) and len(ref) == 10
        assert not set(ref[3:].replace("-", "")) & set("0O1IL5S2Z8B")
    assert set(REFERENCE_ALPHABET).isdisjoint("0O1IL5S2Z8B")


@pytest.mark.parametrize(
    ("count", "latest", "screen"),
    [("3", "recent", "trigger.yes"), ("2", "recent", "trigger.no"), ("3", "old", "trigger.no")],
)
def test_community_trigger_conversation(chat: Chat, count: str, latest: str, screen: str) -> None:
    chat.press("trigger")
    chat.press(f"trigger#count={count}>trigger.latest")
    [reply] = chat.press(f"trigger.latest#latest={latest}>!decide")
    assert chat.session.node == screen
    if screen == "trigger.yes":
        assert "case review" in reply.text and "dates" in reply.text


def test_export_csv_has_the_columns_staff_need(engine: Engine, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: NOW)
    _confirm, send = fill_form(conv)
    send(Inbound.choice("act:file_report"))
    rows = list(csv.DictReader(io.StringIO(export_csv(store.reports()))))
    assert list(rows[0]) == [
        "reference", "created_at", "lang", "channel", "category", "what", "where",
        "in_borough", "when", "ongoing", "contact",
    ]  # fmt: skip
    assert rows[0]["what"] == "Loud music from flat 3 every night"


@pytest.mark.parametrize("typed", ["=1+2", "@SUM(1)", "+44 cmd", "-2+3", "\tx", "\rx"])
def test_export_csv_never_hands_a_spreadsheet_a_formula(typed: str) -> None:
    report = Report(reference="K-1", created_at="2026-11-24T15:00:00+00:00", lang="en",
                    channel="telegram", category="noise", what=typed, where="=HYPERLINK(1)",
                    in_borough="yes", when="today", ongoing="yes")  # fmt: skip
    [row] = list(csv.DictReader(io.StringIO(export_csv([report]))))
    assert row["what"] == "'" + typed and row["where"] == "'=HYPERLINK(1)"
    assert row["reference"] == "K-1" and row["lang"] == "en"  # ordinary cells as they were


def test_export_stats_and_purge_commands(engine: Engine, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    from bot.storage.store import load_secret

    long_ago = NOW - 400 * 86400  # filed more than a year before the test runs
    conv = Conversations(engine, store, load_secret(tmp_path), clock=lambda: long_ago)
    _confirm, send = fill_form(conv)
    send(Inbound.choice("act:file_report"))
    store.close()
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path), "BOT_REPORT_RETENTION_DAYS": "1"}

    def bot(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True,
                              text=True, env=env, check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    exported = json.loads(bot("reports", "export", "--format", "json"))
    assert exported[0]["category"] == "noise"
    assert json.loads(bot("reports", "export", "--format", "json", "--since", "2030-01-01")) == []
    assert "reference,created_at" in bot("reports", "export", "--format", "csv")
    stats = json.loads(bot("stats"))
    assert stats["report"] == {"noise": 1} and "Loud" not in json.dumps(stats)
    assert "1 report(s)" in bot("purge")  # retention is one day
    assert json.loads(bot("reports", "export", "--format", "json")) == []


def test_no_words_in_the_database_or_logs_without_a_report(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = SqliteStore(tmp_path / "bot.db")
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: NOW)
    conv.handle("telegram", "77", Inbound.command("start", lang_hint="en"))
    conv.handle("telegram", "77", Inbound.choice("report.form"))
    conv.handle("telegram", "77", Inbound.message("Zebediah deals from flat 9"))
    conv.handle("telegram", "77", Inbound.message("Portobello Road W11"))
    conv.handle("telegram", "77", Inbound.choice("act:cancel_report"))
    store.close()
    dump = "\n".join(sqlite3.connect(tmp_path / "bot.db").iterdump())
    for word in ("Zebediah", "Portobello", "flat 9"):
        assert word not in dump and word not in caplog.text


def test_crash_between_commit_and_confirmation_loses_nothing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: NOW)
    _confirm, send = fill_form(conv)

    def crash(report: object) -> None:
        raise SystemExit("killed after commit")  # the process dies before replying

    conv.report_listeners.append(crash)
    monkeypatch.setattr(conv, "_announce", lambda report: crash(report))
    with pytest.raises(SystemExit):
        send(Inbound.choice("act:file_report"), "upd-crash")
    store.close()
    # A new process: the same update arrives again.
    store2 = SqliteStore(tmp_path / "bot.db")
    conv2 = Conversations(engine, store2, b"s" * 32, clock=lambda: NOW)
    [again] = conv2.handle("telegram", "u1", Inbound.choice("act:file_report"), "upd-crash")
    [report] = store2.reports()
    assert report.reference in again.text
    assert ids(again) == ["menu"]


def test_staff_message_and_listeners(engine: Engine) -> None:
    from bot.core.reports import staff_text

    store = MemoryStore()
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: NOW)
    posted: list[str] = []
    conv.report_listeners.append(lambda report: posted.append(staff_text(report)))
    _confirm, send = fill_form(conv)
    send(Inbound.choice("act:file_report"))
    [message] = posted
    assert message.startswith("New report KC-")
    assert "What: Loud music from flat 3 every night" in message
    assert "Contact: none: anonymous" in message
    assert "Where: Golborne Road W10 5NR (in the borough: yes)" in message


@pytest.mark.parametrize(
    ("lang", "line"),
    [("en", "What: graffiti on the bridge"), ("fr", "Quoi\u00a0: graffiti on the bridge")],
)
def test_the_summary_lines_follow_the_languages_punctuation(
    engine: Engine, lang: str, line: str
) -> None:
    _ = engine.content.catalogs.get(lang)
    text = summary({"what": "graffiti on the bridge", "when": "today"}, _)
    assert text.splitlines()[0] == line  # the person's words as typed, braces and all
    assert summary({"what": "{where} {0}"}, _).splitlines()[0].endswith(": {where} {0}")


async def test_one_person_flooding_is_asked_once_to_slow_down_and_others_are_not(
    engine: Engine,
) -> None:
    from bot.service.conversation import RATE_MAX, RATE_WINDOW

    clock = [NOW]
    conv = Conversations(engine, MemoryStore(), b"s" * 32, clock=lambda: clock[0])
    await conv.feed("telegram", "flood", Inbound.choice("lang:fr"))
    for _ in range(RATE_MAX - 1):
        clock[0] += 1.5  # 40 a minute: never a burst, but past the minute's limit
        assert await conv.feed("telegram", "flood", Inbound.message("bruit"))
    [notice] = await conv.feed("telegram", "flood", Inbound.message("bruit"))
    assert notice.text.startswith("Vous envoyez des messages très vite") and "999" in notice.text
    assert await conv.feed("telegram", "flood", Inbound.message("bruit")) == []  # told once
    # Someone else is answered as usual meanwhile.
    assert await conv.feed("telegram", "other", Inbound.message("noisy neighbours"))
    clock[0] += RATE_WINDOW + 1  # a minute later, the same person is answered again
    [menu] = await conv.feed("telegram", "flood", Inbound.command("start"))
    assert "999" in menu.text and menu.choices


async def test_a_burst_is_answered_up_to_ten_then_asked_once_a_minute_to_slow_down(
    engine: Engine,
) -> None:
    from bot.service.conversation import BURST_MAX, BURST_WINDOW

    clock = [NOW]
    conv = Conversations(engine, MemoryStore(), b"s" * 32, clock=lambda: clock[0])
    for _ in range(BURST_MAX):  # a burst at once: a person tapping fast is still answered
        assert await conv.feed("telegram", "burst", Inbound.message("noisy neighbours"))
    [notice] = await conv.feed("telegram", "burst", Inbound.message("noisy neighbours"))
    assert notice.text.startswith("You are sending messages very fast") and "999" in notice.text
    assert await conv.feed("telegram", "burst", Inbound.message("noisy neighbours")) == []
    clock[0] += BURST_WINDOW + 1  # the burst is over: answered again
    assert await conv.feed("telegram", "burst", Inbound.message("noisy neighbours"))
    for _ in range(BURST_MAX):  # a second burst in the same minute is not told again
        await conv.feed("telegram", "burst", Inbound.message("noisy neighbours"))
    assert await conv.feed("telegram", "burst", Inbound.message("noisy neighbours")) == []


def test_a_flood_is_turned_away_at_the_door_after_the_limit_and_the_one_told(
    engine: Engine,
) -> None:
    from bot.service.conversation import BURST_MAX, BURST_WINDOW, RATE_MAX, RATE_WINDOW

    clock = [NOW]
    conv = Conversations(engine, MemoryStore(), b"s" * 32, clock=lambda: clock[0])
    # A burst's turns, and one more: the update whose answer asks them to slow down.
    assert all(conv.admit("telegram", "flood") for _ in range(BURST_MAX + 1))
    assert not conv.admit("telegram", "flood")  # not kept, not queued: no work at all
    assert conv.admit("telegram", "other")  # everyone else as usual
    assert conv.admit("whatsapp", "flood")  # the same number on another channel is someone else
    clock[0] += BURST_WINDOW + 1
    assert conv.admit("telegram", "flood")  # after the burst, taken again
    # Spread out, a minute's limit and one more.
    slow = [NOW + 100]
    conv = Conversations(engine, MemoryStore(), b"s" * 32, clock=lambda: slow[0])
    for _ in range(RATE_MAX + 1):
        slow[0] += 1.5
        assert conv.admit("telegram", "steady")
    assert not conv.admit("telegram", "steady")
    slow[0] += RATE_WINDOW + 1
    assert conv.admit("telegram", "steady")  # a minute later, taken again


def test_one_person_may_send_three_reports_in_15_minutes_and_is_told_kindly(
    engine: Engine,
) -> None:
    store = MemoryStore()
    now = [NOW]
    conv = Conversations(engine, store, b"s" * 32, clock=lambda: now[0])
    for _ in range(3):
        _confirm, send = fill_form(conv)
        [done] = send(SEND)
        assert "KC-" in done.text
        now[0] += 60
    _confirm, send = fill_form(conv)
    [held] = send(SEND)
    assert "several reports in a short time" in held.text
    assert "999" in held.text and "101" in held.text
    assert [c.id for c in held.choices] == ["act:file_report", "act:cancel_report"]
    assert len(store.reports()) == 3  # the fourth was not filed, and not posted to staff
    now[0] += 15 * 60
    [done] = send(SEND)  # later, the same button sends the answers kept
    assert len(store.reports()) == 4 and store.reports()[-1].reference in done.text
    assert store.reports()[-1].what == "Loud music from flat 3 every night"
    # Someone else is not held back by it.
    _confirm, send_b = fill_form(conv, "u2")
    assert "KC-" in send_b(SEND)[0].text
