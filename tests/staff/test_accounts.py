"""Staff accounts: Argon2 hashes, the rules for passwords, and the lock after five wrong ones."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.staff.accounts import LOCK_SECONDS, AccountError, Accounts
from bot.staff.signins import SignIns

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(tmp_path: Path, clock: Clock) -> Accounts:
    return Accounts(tmp_path / "bot.db", clock)


def test_a_password_is_kept_only_as_an_argon2id_hash(accounts: Accounts, tmp_path: Path) -> None:
    accounts.add("Officer@RBKC.gov.uk ", PASSWORD, "admin")
    [(email, role, hashed)] = sqlite3.connect(tmp_path / "bot.db").execute(
        "select email, role, hash from staff"
    )
    assert (email, role) == ("officer@rbkc.gov.uk", "admin")
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert (tmp_path / "bot.db").stat().st_mode & 0o077 == 0  # the owner's only
    signed = accounts.sign_in("OFFICER@rbkc.gov.uk", PASSWORD)
    assert signed is not None and signed.role == "admin"


@pytest.mark.parametrize(
    ("email", "password", "role", "why"),
    [
        ("a@rbkc.gov.uk", "short pass", "officer", "at least 12 characters"),
        ("not an email", PASSWORD, "officer", "is not an email address"),
        ("a@rbkc.gov.uk", PASSWORD, "boss", "the role must be one of officer, admin"),
    ],
)
def test_an_account_that_cannot_be_made_says_why(
    accounts: Accounts, email: str, password: str, role: str, why: str
) -> None:
    with pytest.raises(AccountError, match=why):
        accounts.add(email, password, role)
    assert accounts.all() == []


def test_the_same_email_twice_is_refused(accounts: Accounts) -> None:
    accounts.add("a@rbkc.gov.uk", PASSWORD)
    with pytest.raises(AccountError, match="already has an account"):
        accounts.add("A@rbkc.gov.uk", "another long password")


def test_five_wrong_passwords_lock_the_account_for_15_minutes(
    accounts: Accounts, clock: Clock
) -> None:
    accounts.add("a@rbkc.gov.uk", PASSWORD)
    for _ in range(4):
        assert accounts.sign_in("a@rbkc.gov.uk", "wrong password!") is None
    assert accounts.sign_in("a@rbkc.gov.uk", PASSWORD) is not None  # four: not yet, and reset
    for _ in range(5):
        assert accounts.sign_in("a@rbkc.gov.uk", "wrong password!") is None
    assert accounts.sign_in("a@rbkc.gov.uk", PASSWORD) is None  # locked: even the right one
    [locked] = accounts.all()
    assert locked.locked_until == clock.now + LOCK_SECONDS
    clock.now += LOCK_SECONDS - 1
    assert accounts.sign_in("a@rbkc.gov.uk", PASSWORD) is None
    clock.now += 2
    assert accounts.sign_in("a@rbkc.gov.uk", PASSWORD) is not None


def test_an_unknown_email_is_refused_like_a_wrong_password(accounts: Accounts) -> None:
    assert accounts.sign_in("nobody@rbkc.gov.uk", PASSWORD) is None


def test_a_removed_account_can_no_longer_sign_in(accounts: Accounts) -> None:
    accounts.add("a@rbkc.gov.uk", PASSWORD)
    assert accounts.remove("A@rbkc.gov.uk") is True
    assert accounts.remove("a@rbkc.gov.uk") is False
    assert accounts.sign_in("a@rbkc.gov.uk", PASSWORD) is None


def bot(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "bot", "staff", *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_bot_staff_adds_lists_and_removes_with_the_password_on_stdin(tmp_path: Path) -> None:
    added = bot(tmp_path, "add", "lead@rbkc.gov.uk", "--role", "admin", "--password-stdin",
                stdin=PASSWORD + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added lead@rbkc.gov.uk (admin)" in added.stdout and PASSWORD not in added.stdout
    short = bot(tmp_path, "add", "b@rbkc.gov.uk", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    listed = bot(tmp_path, "list")
    assert listed.stdout.startswith("lead@rbkc.gov.uk\tadmin\tsince ")
    assert "b@rbkc.gov.uk" not in listed.stdout
    signed_in = SignIns(tmp_path / "bot.db").start("lead@rbkc.gov.uk")
    assert bot(tmp_path, "remove", "Lead@rbkc.gov.uk").returncode == 0
    assert bot(tmp_path, "list").stdout == ""
    assert SignIns(tmp_path / "bot.db").who(signed_in) is None  # signed out at once
    assert bot(tmp_path, "remove", "lead@rbkc.gov.uk").returncode == 1
    # Never on the command line, where other users of the machine could read it.
    refused = bot(tmp_path, "add", "c@rbkc.gov.uk")
    assert refused.returncode == 2 and "--password-stdin" in refused.stderr
