"""The store's interface, its limits and errors: what every store (SQLite, memory) must keep."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NewType, Protocol

from bot.core.reports import Report
from bot.core.types import Session

SESSION_TTL = 24 * 3600.0  # a session is forgotten after a day without messages
MESSAGE_IDS_TTL = 48 * 3600.0  # Telegram lets a bot delete a message for 48 hours, no longer
INBOX_TRIES = 3  # an update that was in hand at three crashes in a row is dropped, not retried
INBOX_TTL = 3600.0  # an update older than this when the bot comes back is dropped, not run
PROCESSED_TTL = 7 * 86400.0  # an update's id is kept a week: redeliveries come within hours
STAFF_POSTS_TTL = 7 * 86400.0  # a report not posted to staff within a week is left to the export


# Who a row belongs to: an HMAC of the channel and the person's id, never the id itself. Its own
# type, so a raw chat id or phone number passed to the store is a type error.
PersonKey = NewType("PersonKey", str)


class StoreUnavailable(Exception):
    """The database cannot be used right now: locked by another process, full, or gone.

    Its message is the kind of failure only ("OperationalError"), safe for the logs.
    """


class Sessions(Protocol):
    """Where each person is, and each turn's changes kept in one transaction."""

    def load_session(self, key: PersonKey, now: float) -> Session | None:
        """The person's session, unless it has expired."""

    def save_session(self, key: PersonKey, session: Session) -> None:
        """Remember a session (its language, screen and where Back goes)."""

    def forget(self, key: PersonKey) -> None:
        """Erase every row about the person with this key."""

    def commit(
        self,
        key: PersonKey,
        session: Session | None,
        report: Report | None,
        user_key: PersonKey | None,
        update: str | None,
    ) -> None:
        """In one transaction: save (or drop) the session, file the report, mark the update."""

    def processed(self, update: str) -> tuple[bool, str | None]:
        """Whether an update was handled already, and the reference it filed, if any."""

    def record(self, day: str, channel: str, lang: str, events: Iterable[tuple[str, str]]) -> None:
        """Add to the daily aggregate counts (no user key)."""


class Reports(Protocol):
    """The reports filed, their staff posts, and the aggregate counts: what staff read."""

    def reports(self, since: str = "") -> list[Report]:
        """Reports filed on or after `since` (an ISO date), oldest first."""

    def unposted(self) -> list[tuple[Report, int]]:
        """Reports not yet wholly posted to the staff chat, oldest first, with parts posted."""

    def post_progress(self, reference: str, parts: int, done: bool) -> None:
        """Note how many parts of a report's staff post went out; forget it once all did."""

    def stats(self) -> dict[str, dict[str, int]]:
        """Totals by event kind and value, plus languages and channels."""


class InboxRows(Protocol):
    """Updates that have arrived but whose turns are not done yet."""

    def inbox_add(self, channel: str, bodies: Sequence[bytes], now: float) -> list[int]:
        """Keep updates that have arrived but whose turns are not done; their row numbers."""

    def inbox_done(self, row: int) -> None:
        """Delete an update whose turn is done."""

    def inbox_unfinished(self, channel: str, now: float) -> list[tuple[int, bytes]]:
        """Updates left in hand by a crash, oldest first, counting this try; stale ones dropped."""

    def tidy(self) -> None:
        """Empty the write-ahead log, so rows deleted since (an update in hand) leave no copy."""


class MessageIds(Protocol):
    """The ids of messages in a chat, so quick exit can delete them after a restart."""

    def keep_message_ids(self, rows: Iterable[tuple[PersonKey, int, float]]) -> None:
        """Remember (key, message id, when) of messages quick exit may delete after a restart."""

    def take_message_ids(self, key: PersonKey) -> list[tuple[float, int]]:
        """The (when, message id) remembered for a person, forgetting them."""


class Upkeep(Protocol):
    """Keeping the store healthy and small."""

    def purge(self, now: float, report_days: int = 365) -> tuple[int, int]:
        """Drop expired sessions and old reports; return how many of each went."""

    def ping(self) -> None:
        """Raise if the store cannot be read."""


class Store(Sessions, Reports, InboxRows, MessageIds, Upkeep, Protocol):
    """Everything the assistant keeps: each part of it takes only the narrow side it uses."""


class StoreFull(StoreUnavailable):
    """The disk holding the database has (almost) no room left."""


def load_secret(data_dir: Path) -> bytes:
    """The key for hashing user ids, generated into the data directory on first run."""
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return bytes.fromhex(path.read_text().strip())


def today(now: float | None = None) -> str:
    """The UTC day for aggregate counts: coarse on purpose, so no count points to a moment."""
    return datetime.fromtimestamp(now if now is not None else time.time(), UTC).date().isoformat()
