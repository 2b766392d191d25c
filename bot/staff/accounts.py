"""Staff accounts: an email, a role and an Argon2 hash of the password, kept in the database.

Five wrong passwords in a row lock an account for 15 minutes, whoever typed them, so a
password cannot be guessed quickly; the right password during the lock is refused too.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("officer", "admin")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # far more than anyone types; stops a huge one costing the hasher
MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60.0
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SCHEMA = """
create table if not exists staff (
    email text primary key,
    role text not null,
    hash text not null,
    created_at real not null,
    failures integer not null default 0,
    locked_until real not null default 0
)
"""


class AccountError(ValueError):
    """An account cannot be made or changed; the message says why, in plain words."""


@dataclass(frozen=True)
class Account:
    """A staff member who can sign in."""

    email: str
    role: str
    created_at: float
    locked_until: float = 0.0


def normal_email(email: str) -> str:
    """The email as it is kept: trimmed and in lower case."""
    return email.strip().lower()


class Accounts:
    """The staff table of the assistant's database."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.touch(mode=0o600, exist_ok=True)  # password hashes: readable by their owner only
        self._db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
        self._db.execute(_SCHEMA)
        self._clock = clock
        self._hasher = PasswordHasher()  # Argon2id with the library's current parameters

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def add(self, email: str, password: str, role: str = "officer") -> Account:
        """A new account; raises AccountError for a taken email, a bad role or a short password."""
        email = normal_email(email)
        if not _EMAIL.match(email):
            raise AccountError(f"{email!r} is not an email address")
        if role not in ROLES:
            raise AccountError(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
        check_password(password)
        now = self._clock()
        try:
            self._db.execute(
                "insert into staff (email, role, hash, created_at) values (?, ?, ?, ?)",
                [email, role, self._hasher.hash(password), now],
            )
        except sqlite3.IntegrityError:
            raise AccountError(f"{email} already has an account") from None
        return Account(email, role, now)

    def remove(self, email: str) -> bool:
        """Delete an account; whether there was one."""
        gone = self._db.execute("delete from staff where email = ?", [normal_email(email)])
        return gone.rowcount > 0

    def all(self) -> list[Account]:
        """Every account, by email."""
        rows = self._db.execute(
            "select email, role, created_at, locked_until from staff order by email"
        )
        return [Account(*row) for row in rows]

    def sign_in(self, email: str, password: str) -> Account | None:
        """The account if the password is right and it is not locked; otherwise None."""
        email, now = normal_email(email), self._clock()
        row = self._db.execute(
            "select role, hash, created_at, failures, locked_until from staff where email = ?",
            [email],
        ).fetchone()
        if row is None:
            self._hasher.hash(password[:MAX_PASSWORD])  # as slow as a real check: no timing clue
            return None
        role, hashed, created_at, failures, locked_until = row
        if locked_until > now:
            return None
        try:
            self._hasher.verify(hashed, password[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            failures += 1
            lock = now + LOCK_SECONDS if failures >= MAX_FAILURES else 0.0
            self._db.execute(
                "update staff set failures = ?, locked_until = ? where email = ?",
                [0 if lock else failures, lock, email],
            )
            return None
        if self._hasher.check_needs_rehash(hashed):
            hashed = self._hasher.hash(password)  # parameters raised since: keep it current
        self._db.execute(
            "update staff set failures = 0, locked_until = 0, hash = ? where email = ?",
            [hashed, email],
        )
        return Account(email, role, created_at)


def check_password(password: str) -> None:
    """Raise AccountError unless the password is long enough to be kept."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password can have at most {MAX_PASSWORD} characters")
