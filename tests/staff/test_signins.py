"""Staff sign-in sessions: they expire when idle or old, end at sign-out, and are kept hashed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.staff.signins import IDLE_SECONDS, MAX_SECONDS, SignIns, csrf_ok, csrf_token
from tests.staff.test_accounts import Clock


def test_a_session_lasts_while_used_and_ends_when_idle(tmp_path: Path) -> None:
    clock = Clock()
    signins = SignIns(tmp_path / "bot.db", clock)
    token = signins.start("a@rbkc.gov.uk")
    clock.now += IDLE_SECONDS - 1
    assert signins.who(token) == "a@rbkc.gov.uk"  # used: the idle time starts again
    clock.now += IDLE_SECONDS - 1
    assert signins.who(token) == "a@rbkc.gov.uk"
    clock.now += IDLE_SECONDS + 1
    assert signins.who(token) is None
    assert signins.who(token) is None  # and it stays ended


def test_a_session_ends_after_eight_hours_however_busy(tmp_path: Path) -> None:
    clock = Clock()
    signins = SignIns(tmp_path / "bot.db", clock)
    started = clock.now
    token = signins.start("a@rbkc.gov.uk")
    while clock.now + 1200 <= started + MAX_SECONDS:  # used every 20 minutes all day
        clock.now += 1200
        assert signins.who(token) == "a@rbkc.gov.uk"
    clock.now = started + MAX_SECONDS + 1
    assert signins.who(token) is None


def test_old_sessions_are_cleared_at_the_next_sign_in(tmp_path: Path) -> None:
    clock = Clock()
    signins = SignIns(tmp_path / "bot.db", clock)
    signins.start("a@rbkc.gov.uk")  # never used again, never signed out
    clock.now += MAX_SECONDS + 1
    signins.start("b@rbkc.gov.uk")
    rows = sqlite3.connect(tmp_path / "bot.db").execute("select email from staff_signins")
    assert [email for (email,) in rows] == ["b@rbkc.gov.uk"]


def test_sign_out_ends_only_that_session(tmp_path: Path) -> None:
    signins = SignIns(tmp_path / "bot.db", Clock())
    laptop, phone = signins.start("a@rbkc.gov.uk"), signins.start("a@rbkc.gov.uk")
    signins.end(laptop)
    assert signins.who(laptop) is None and signins.who(phone) == "a@rbkc.gov.uk"
    signins.end_all("a@rbkc.gov.uk")
    assert signins.who(phone) is None


def test_the_database_holds_no_usable_token(tmp_path: Path) -> None:
    signins = SignIns(tmp_path / "bot.db", Clock())
    token = signins.start("a@rbkc.gov.uk")
    [(kept,)] = sqlite3.connect(tmp_path / "bot.db").execute("select token_hash from staff_signins")
    assert token not in kept and signins.who(kept) is None
    assert signins.who("made-up-token") is None


def test_a_form_token_belongs_to_its_session_only() -> None:
    secret = b"s" * 32
    mine = csrf_token(secret, "session-one")
    assert csrf_ok(secret, "session-one", mine)
    assert not csrf_ok(secret, "session-two", mine)
    assert not csrf_ok(secret, "session-one", "")
