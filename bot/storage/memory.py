"""The store in memory, for tests: the same interface and the same rules as SQLite."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from bot.core.reports import Report
from bot.core.types import Session
from bot.storage.store import (
    INBOX_TRIES,
    INBOX_TTL,
    MESSAGE_IDS_TTL,
    PROCESSED_TTL,
    SESSION_TTL,
    STAFF_POSTS_TTL,
    PersonKey,
    StoreUnavailable,
)


def _copy(session: Session) -> Session:
    """The session as SQLite gives it back: its own copy, its data through JSON."""
    return Session.restored(session.lang, session.node, session.stored(), session.updated_at)


class MemoryStore:
    """The same interface in memory, for tests."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.events: Counter[tuple[str, str, str, str, str]] = Counter()
        self.filed: list[tuple[Report, str | None]] = []
        self.updates: dict[str, tuple[float, str | None]] = {}  # update: at, reference
        self.message_ids: dict[str, set[tuple[float, int]]] = {}
        self.inbox: dict[int, tuple[str, bytes, float, int]] = {}  # row: channel, body, at, tries
        self.staff_posts: dict[str, tuple[float, int]] = {}  # reference: at, parts posted
        self._rows = 0

    def commit(
        self,
        key: PersonKey,
        session: Session | None,
        report: Report | None,
        user_key: PersonKey | None,
        update: str | None,
    ) -> None:
        """Save (or drop) the session, file the report, mark the update: all of it, or none."""
        kept = None if session is None else _copy(session)
        if report is not None and any(r.reference == report.reference for r, _ in self.filed):
            raise StoreUnavailable("IntegrityError")  # as SQLite: the reference is taken
        if kept is None:
            self.sessions.pop(key, None)
        else:
            self.sessions[key] = kept
        if report is not None:
            self.filed.append((report, user_key))
            self.staff_posts[report.reference] = (time.time(), 0)
        if update is not None:
            self.updates[update] = (time.time(), report.reference if report else None)

    def processed(self, update: str) -> tuple[bool, str | None]:
        """Whether an update was handled already, and the reference it filed, if any."""
        found = self.updates.get(update)
        return (True, found[1]) if found else (False, None)

    def ping(self) -> None:
        """Always readable."""

    def reports(self, since: str = "") -> list[Report]:
        """Reports filed on or after `since`, oldest first."""
        return sorted(
            (r for r, _ in self.filed if r.created_at >= since), key=lambda r: r.created_at
        )

    def load_session(self, key: PersonKey, now: float) -> Session | None:
        """The person's session, unless it has expired."""
        s = self.sessions.get(key)
        return _copy(s) if s is not None and now - s.updated_at <= SESSION_TTL else None

    def save_session(self, key: PersonKey, session: Session) -> None:
        """Remember a session."""
        self.sessions[key] = _copy(session)

    def forget(self, key: PersonKey) -> None:
        """Erase every row about the person."""
        self.sessions.pop(key, None)
        for report, user_key in self.filed:
            if user_key == key:
                self.staff_posts.pop(report.reference, None)
        self.filed = [(r, k) for r, k in self.filed if k != key]
        self.message_ids.pop(key, None)

    def keep_message_ids(self, rows: Iterable[tuple[PersonKey, int, float]]) -> None:
        """Remember (key, message id, when) of messages quick exit may delete; once per id."""
        for key, message_id, at in rows:
            ids = self.message_ids.setdefault(key, set())
            if all(mid != message_id for _at, mid in ids):
                ids.add((at, message_id))

    def take_message_ids(self, key: PersonKey) -> list[tuple[float, int]]:
        """The (when, message id) remembered for a person, forgetting them."""
        return sorted(self.message_ids.pop(key, set()))

    def inbox_add(self, channel: str, bodies: Sequence[bytes], now: float) -> list[int]:
        """Keep updates in hand; their row numbers."""
        rows = []
        for body in bodies:
            self._rows += 1
            self.inbox[self._rows] = (channel, body, now, 0)
            rows.append(self._rows)
        return rows

    def inbox_done(self, row: int) -> None:
        """Delete an update whose turn is done."""
        self.inbox.pop(row, None)

    def inbox_unfinished(self, channel: str, now: float) -> list[tuple[int, bytes]]:
        """Updates left in hand, oldest first, counting this try; stale ones dropped."""
        found = []
        for row, (ch, body, at, tries) in sorted(self.inbox.items()):
            if ch != channel:
                continue
            if tries >= INBOX_TRIES or at < now - INBOX_TTL:
                del self.inbox[row]
                continue
            self.inbox[row] = (ch, body, at, tries + 1)
            found.append((row, body))
        return found

    def unposted(self) -> list[tuple[Report, int]]:
        """Reports not yet wholly posted to the staff chat, oldest post first, with parts posted."""
        waiting = [(self.staff_posts[r.reference], r) for r, _ in self.filed
                   if r.reference in self.staff_posts]  # fmt: skip
        return [(r, parts) for (_at, parts), r in sorted(waiting, key=lambda w: w[0][0])]

    def post_progress(self, reference: str, parts: int, done: bool) -> None:
        """Note how many parts of a report's staff post went out."""
        if done:
            self.staff_posts.pop(reference, None)
        elif reference in self.staff_posts:
            self.staff_posts[reference] = (self.staff_posts[reference][0], parts)

    def tidy(self) -> None:
        """Nothing to empty in memory."""

    def record(self, day: str, channel: str, lang: str, events: Iterable[tuple[str, str]]) -> None:
        """Add to the aggregate counts."""
        for kind, value in events:
            self.events[(day, channel, lang, kind, value)] += 1

    def stats(self) -> dict[str, dict[str, int]]:
        """Totals by event kind and value, plus totals by language and by channel."""
        totals: dict[str, Counter[str]] = {}
        for (_day, channel, lang, kind, value), n in self.events.items():
            for group, key in ((kind, value), ("by_lang", lang), ("by_channel", channel)):
                totals.setdefault(group, Counter())[key] += n
        # As the SQLite store gives them: each group's largest first, and both "by" groups
        # even when empty.
        out = {g: dict(c.most_common()) for g, c in totals.items() if not g.startswith("by_")}
        for group in ("by_lang", "by_channel"):
            out[group] = dict(totals.get(group, Counter()).most_common())
        return out

    def purge(self, now: float, report_days: int = 365) -> tuple[int, int]:
        """Drop expired sessions, reports older than `report_days`, and old update ids."""
        old = [k for k, s in self.sessions.items() if s.updated_at < now - SESSION_TTL]
        for k in old:
            del self.sessions[k]
        cutoff = datetime.fromtimestamp(now - report_days * 86400, UTC).isoformat()
        kept = [(r, k) for r, k in self.filed if r.created_at >= cutoff]
        gone, self.filed = len(self.filed) - len(kept), kept
        self.updates = {k: v for k, v in self.updates.items() if v[0] >= now - PROCESSED_TTL}
        references = {r.reference for r, _ in kept}
        self.staff_posts = {k: v for k, v in self.staff_posts.items()
                            if k in references and v[0] >= now - STAFF_POSTS_TTL}  # fmt: skip
        self.inbox = {k: v for k, v in self.inbox.items() if v[2] >= now - INBOX_TTL}
        for key, ids in list(self.message_ids.items()):
            ids -= {entry for entry in ids if entry[0] < now - MESSAGE_IDS_TTL}
            if not ids:
                del self.message_ids[key]
        return len(old), gone
