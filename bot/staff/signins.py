"""Staff sign-in sessions: a random token in an HttpOnly cookie, kept hashed, that expires.

A session ends after 30 minutes without use or 8 hours after sign-in, whichever comes first,
and at sign-out. Only the token's SHA-256 is stored, so a copy of the database lets nobody
sign in. Every form carries a CSRF token tied to the session (an HMAC of its token), so a
page elsewhere cannot post in a signed-in officer's name.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

IDLE_SECONDS = 30 * 60.0
MAX_SECONDS = 8 * 3600.0
_SCHEMA = """
create table if not exists staff_signins (
    token_hash text primary key,
    email text not null,
    started_at real not null,
    used_at real not null
)
"""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SignIns:
    """The staff_signins table of the assistant's database."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.touch(mode=0o600, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
        self._db.execute(_SCHEMA)
        self._clock = clock

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def start(self, email: str) -> str:
        """A new session for a signed-in account: the token for its cookie."""
        token, now = secrets.token_urlsafe(32), self._clock()
        # Sessions past their eight hours are gone at the next sign-in, so none piles up.
        self._db.execute("delete from staff_signins where started_at < ?", [now - MAX_SECONDS])
        self._db.execute(
            "insert into staff_signins values (?, ?, ?, ?)", [_hash(token), email, now, now]
        )
        return token

    def who(self, token: str) -> str | None:
        """The email of a live session, which counts as use; None once it has expired."""
        now, key = self._clock(), _hash(token)
        row = self._db.execute(
            "select email, started_at, used_at from staff_signins where token_hash = ?", [key]
        ).fetchone()
        if row is None:
            return None
        email, started_at, used_at = row
        if now - used_at > IDLE_SECONDS or now - started_at > MAX_SECONDS:
            self.end(token)
            return None
        self._db.execute("update staff_signins set used_at = ? where token_hash = ?", [now, key])
        return str(email)

    def end(self, token: str) -> None:
        """Sign out: the token no longer works."""
        self._db.execute("delete from staff_signins where token_hash = ?", [_hash(token)])

    def end_all(self, email: str) -> None:
        """Every session of an account, as when it is removed."""
        self._db.execute("delete from staff_signins where email = ?", [email])


def csrf_token(secret: bytes, session_token: str) -> str:
    """The token every form of this session carries."""
    return hmac.new(secret, f"csrf:{session_token}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, session_token: str, sent: str) -> bool:
    """Whether a posted form's token is this session's."""
    return hmac.compare_digest(csrf_token(secret, session_token), sent)
