"""State behind a narrow interface: SQLite (sqlite-utils, WAL) in production, memory in tests."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import sqlite_utils

from bot.core.reports import Report
from bot.core.types import Session

MIN_FREE = 20_000_000  # bytes; under this, /healthz says the database cannot be written
SESSION_TTL = 24 * 3600.0  # a session is forgotten after a day without messages
MESSAGE_IDS_TTL = 48 * 3600.0  # Telegram lets a bot delete a message for 48 hours, no longer
INBOX_TRIES = 3  # an update that was in hand at three crashes in a row is dropped, not retried
INBOX_TTL = 3600.0  # an update older than this when the bot comes back is dropped, not run
STAFF_POSTS_TTL = 7 * 86400.0  # a report not posted to staff within a week is left to the export


BUSY_TIMEOUT = 10.0  # seconds to wait for another process's write (a backup, a purge) to finish
# What a store raises when its database cannot be used right now (locked, full, gone).
STORE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error,)


class Store(Protocol):
    """Where sessions and aggregate counts live; nothing else about a person."""

    def load_session(self, key: str, now: float) -> Session | None:
        """The person's session, unless it has expired."""

    def save_session(self, key: str, session: Session) -> None:
        """Remember a session (its language, screen and flow data)."""

    def forget(self, key: str) -> None:
        """Erase every row about the person with this key."""

    def record(self, day: str, channel: str, lang: str, events: Iterable[tuple[str, str]]) -> None:
        """Add to the daily aggregate counts (no user key)."""

    def stats(self) -> dict[str, dict[str, int]]:
        """Totals by event kind and value, plus languages and channels."""

    def purge(self, now: float, report_days: int = 365) -> tuple[int, int]:
        """Drop expired sessions and old reports; return how many of each went."""

    def commit(
        self,
        key: str,
        session: Session | None,
        report: Report | None,
        user_key: str | None,
        update: str | None,
    ) -> None:
        """In one transaction: save (or drop) the session, file the report, mark the update."""

    def processed(self, update: str) -> tuple[bool, str | None]:
        """Whether an update was handled already, and the reference it filed, if any."""

    def reports(self, since: str = "") -> list[Report]:
        """Reports filed on or after `since` (an ISO date), oldest first."""

    def ping(self) -> None:
        """Raise if the store cannot be read."""

    def keep_message_ids(self, rows: Iterable[tuple[str, int, float]]) -> None:
        """Remember (key, message id, when) of messages quick exit may delete after a restart."""

    def take_message_ids(self, key: str) -> list[tuple[float, int]]:
        """The (when, message id) remembered for a person, forgetting them."""

    def inbox_add(self, channel: str, bodies: Sequence[bytes], now: float) -> list[int]:
        """Keep updates that have arrived but whose turns are not done; their row numbers."""

    def inbox_done(self, row: int) -> None:
        """Delete an update whose turn is done."""

    def inbox_unfinished(self, channel: str, now: float) -> list[tuple[int, bytes]]:
        """Updates left in hand by a crash, oldest first, counting this try; stale ones dropped."""

    def unposted(self) -> list[tuple[Report, int]]:
        """Reports not yet wholly posted to the staff chat, oldest first, with parts posted."""

    def post_progress(self, reference: str, parts: int, done: bool) -> None:
        """Note how many parts of a report's staff post went out; forget it once all did."""

    def tidy(self) -> None:
        """Empty the write-ahead log, so rows deleted since (an update in hand) leave no copy."""


class StoreFull(OSError):
    """The disk holding the database has (almost) no room left."""


class SqliteStore:
    """The production store: one SQLite file in WAL mode."""

    def __init__(self, path: Path, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Readable by its owner only: it holds reports and contact details. SQLite gives the
        # -wal and -shm files the database file's own permissions.
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=busy_timeout
        )
        self.db = sqlite_utils.Database(conn)
        self.db.enable_wal()
        # With WAL, NORMAL survives a crash of the process (a report committed is kept); only a
        # power cut can lose the last moments. FULL would fsync twice on every message.
        self.db.execute("pragma synchronous = normal")
        # Deleted rows are overwritten with zeros, not left in free pages: "forget me" means it.
        self.db.execute("pragma secure_delete = on")
        self.db.table("sessions").create(
            {"key": str, "lang": str, "node": str, "data": str, "updated_at": float},
            pk="key",
            if_not_exists=True,
        )
        self.db.table("events").create(
            {"day": str, "channel": str, "lang": str, "kind": str, "value": str, "count": int},
            pk=("day", "channel", "lang", "kind", "value"),
            if_not_exists=True,
        )
        columns: dict[str, type] = {c: str for c in Report.__dataclass_fields__}
        self.db.table("reports").create(
            {**columns, "user_key": str}, pk="reference", if_not_exists=True
        )
        self.db.table("processed").create(
            {"update_key": str, "at": float, "reference": str}, pk="update_key", if_not_exists=True
        )
        # Ids and times only, never what the messages said: what quick exit deletes.
        self.db.table("message_ids").create(
            {"key": str, "message_id": int, "at": float},
            pk=("key", "message_id"),
            if_not_exists=True,
        )
        # Updates from their arrival until their turn is done (milliseconds, unless a crash
        # comes between): what makes answering a webhook before the turn safe.
        self.db.execute(
            "create table if not exists inbox (row integer primary key autoincrement, "
            "channel text not null, body blob not null, at float not null, tries int default 0)"
        )
        # References of reports whose post to the staff chat has not wholly gone out.
        self.db.table("staff_posts").create(
            {"reference": str, "at": float, "parts": int}, pk="reference", if_not_exists=True
        )

    @contextlib.contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once: all of it, or none."""
        # The connection is in autocommit mode, where `with conn:` opens no transaction at all.
        conn = self.db.conn
        conn.execute("begin immediate")
        try:
            yield conn
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise

    def load_session(self, key: str, now: float) -> Session | None:
        """The person's session, unless it has expired."""
        rows = list(self.db.query("select * from sessions where key = ?", [key]))
        if not rows or now - rows[0]["updated_at"] > SESSION_TTL:
            return None
        row = rows[0]
        return Session(row["lang"], row["node"], json.loads(row["data"]), row["updated_at"])

    def save_session(self, key: str, session: Session) -> None:
        """Remember a session."""
        row = {
            "key": key,
            "lang": session.lang,
            "node": session.node,
            "data": json.dumps(session.data, ensure_ascii=False),
            "updated_at": session.updated_at,
        }
        self.db.table("sessions").upsert(row, pk="key")

    def forget(self, key: str) -> None:
        """Erase every row about the person with this key."""
        with self._immediate():
            self.db.execute("delete from sessions where key = ?", [key])
            self.db.execute(
                "delete from staff_posts where reference in "
                "(select reference from reports where user_key = ?)",
                [key],
            )
            self.db.execute("delete from reports where user_key = ?", [key])
            self.db.execute("delete from message_ids where key = ?", [key])
        self._checkpoint()

    def _checkpoint(self) -> None:
        """Copy the write-ahead log into the database and empty it: erased rows leave no copy."""
        self.db.execute("pragma wal_checkpoint(TRUNCATE)").fetchall()

    def commit(
        self,
        key: str,
        session: Session | None,
        report: Report | None,
        user_key: str | None,
        update: str | None,
    ) -> None:
        """In one transaction: save (or drop) the session, file the report, mark the update."""
        with self._immediate() as conn:
            if session is None:
                conn.execute("delete from sessions where key = ?", [key])
            else:
                conn.execute(
                    "insert or replace into sessions (key, lang, node, data, updated_at) "
                    "values (?, ?, ?, ?, ?)",
                    [key, session.lang, session.node, json.dumps(session.data, ensure_ascii=False),
                     session.updated_at],
                )  # fmt: skip
            if report is not None:
                row = {**report.row(), "user_key": user_key}
                names = ", ".join(f'"{k}"' for k in row)  # "where" and "when" are keywords
                marks = ", ".join("?" for _ in row)
                conn.execute(f"insert into reports ({names}) values ({marks})", list(row.values()))
                conn.execute(
                    "insert into staff_posts (reference, at, parts) values (?, ?, 0)",
                    [report.reference, time.time()],
                )
            if update is not None:
                conn.execute(
                    "insert or replace into processed (update_key, at, reference) values (?, ?, ?)",
                    [update, time.time(), report.reference if report else None],
                )

    def processed(self, update: str) -> tuple[bool, str | None]:
        """Whether an update was handled already, and the reference it filed, if any."""
        rows = list(self.db.query("select * from processed where update_key = ?", [update]))
        return (True, rows[0]["reference"]) if rows else (False, None)

    def reports(self, since: str = "") -> list[Report]:
        """Reports filed on or after `since` (an ISO date), oldest first."""
        sql = "select * from reports where created_at >= ? order by created_at"
        fields = Report.__dataclass_fields__
        return [
            Report(**{k: v or "" for k, v in row.items() if k in fields})
            for row in self.db.query(sql, [since])
        ]

    def record(self, day: str, channel: str, lang: str, events: Iterable[tuple[str, str]]) -> None:
        """Add to the daily aggregate counts."""
        rows = [(day, channel, lang, k, v, n) for (k, v), n in Counter(events).items()]
        self.db.conn.executemany(
            "insert into events (day, channel, lang, kind, value, count) values (?, ?, ?, ?, ?, ?) "
            "on conflict (day, channel, lang, kind, value) "
            "do update set count = count + excluded.count",
            rows,
        )

    def stats(self) -> dict[str, dict[str, int]]:
        """Totals by event kind and value, plus totals by language and by channel."""
        out: dict[str, dict[str, int]] = {}
        sql = "select kind, value, sum(count) n from events group by kind, value order by n desc"
        for row in self.db.query(sql):
            out.setdefault(row["kind"], {})[row["value"]] = row["n"]
        for column in ("lang", "channel"):
            q = f"select {column} v, sum(count) n from events group by v order by n desc"
            out[f"by_{column}"] = {row["v"]: row["n"] for row in self.db.query(q)}
        return out

    def purge(self, now: float, report_days: int = 365) -> tuple[int, int]:
        """Drop expired sessions, reports older than `report_days`, and old update ids."""
        cutoff = datetime.fromtimestamp(now - report_days * 86400, UTC).isoformat()
        with self._immediate():
            sessions = self.db.execute(
                "delete from sessions where updated_at < ?", [now - SESSION_TTL]
            ).rowcount
            reports = self.db.execute("delete from reports where created_at < ?", [cutoff]).rowcount
            self.db.execute("delete from processed where at < ?", [now - 7 * 86400])
            self.db.execute("delete from message_ids where at < ?", [now - MESSAGE_IDS_TTL])
            self.db.execute("delete from inbox where at < ?", [now - INBOX_TTL])
            self.db.execute(
                "delete from staff_posts where at < ? or reference not in "
                "(select reference from reports)",
                [now - STAFF_POSTS_TTL],
            )
        self._checkpoint()
        return int(sessions), int(reports)

    def ping(self) -> None:
        """Raise if the database cannot be read, or written (locked, read-only, disk full)."""
        self.db.execute("select count(*) from sessions").fetchone()
        # Taking the write lock proves the file is writable; the disk's room is checked too,
        # since SQLite only finds a full disk when it next has to grow the file.
        with self._immediate():
            pass
        if shutil.disk_usage(self.path.parent).free < MIN_FREE:
            raise StoreFull(f"under {MIN_FREE // 1_000_000} MB free beside the database")

    def keep_message_ids(self, rows: Iterable[tuple[str, int, float]]) -> None:
        """Remember (key, message id, when) of messages quick exit may delete after a restart."""
        with self._immediate():
            self.db.conn.executemany(
                "insert or ignore into message_ids (key, message_id, at) values (?, ?, ?)", rows
            )

    def take_message_ids(self, key: str) -> list[tuple[float, int]]:
        """The (when, message id) remembered for a person, forgetting them."""
        with self._immediate() as conn:
            sql = "select at, message_id from message_ids where key = ?"
            found = [(float(at), int(mid)) for at, mid in conn.execute(sql, [key])]
            conn.execute("delete from message_ids where key = ?", [key])
        return found

    def inbox_add(self, channel: str, bodies: Sequence[bytes], now: float) -> list[int]:
        """Keep updates that have arrived but whose turns are not done, in one write; their rows."""
        sql = "insert into inbox (channel, body, at) values (?, ?, ?)"
        with self._immediate() as conn:
            return [int(conn.execute(sql, [channel, b, now]).lastrowid or 0) for b in bodies]

    def inbox_done(self, row: int) -> None:
        """Delete an update whose turn is done."""
        self.db.execute("delete from inbox where row = ?", [row])

    def inbox_unfinished(self, channel: str, now: float) -> list[tuple[int, bytes]]:
        """Updates left in hand by a crash, oldest first, counting this try; stale ones dropped."""
        with self._immediate() as conn:
            conn.execute(
                "delete from inbox where channel = ? and (tries >= ? or at < ?)",
                [channel, INBOX_TRIES, now - INBOX_TTL],
            )
            conn.execute("update inbox set tries = tries + 1 where channel = ?", [channel])
            sql = "select row, body from inbox where channel = ? order by row"
            return [(int(row), bytes(body)) for row, body in conn.execute(sql, [channel])]

    def unposted(self) -> list[tuple[Report, int]]:
        """Reports not yet wholly posted to the staff chat, oldest first, with parts posted."""
        sql = (
            "select reports.*, staff_posts.parts as posted_parts from staff_posts "
            "join reports using (reference) order by staff_posts.at"
        )
        fields = Report.__dataclass_fields__
        return [
            (Report(**{k: v or "" for k, v in row.items() if k in fields}), row["posted_parts"])
            for row in self.db.query(sql)
        ]

    def post_progress(self, reference: str, parts: int, done: bool) -> None:
        """Note how many parts of a report's staff post went out; forget it once all did."""
        if done:
            self.db.execute("delete from staff_posts where reference = ?", [reference])
        else:
            sql = "update staff_posts set parts = ? where reference = ?"
            self.db.execute(sql, [parts, reference])

    def tidy(self) -> None:
        """Empty the write-ahead log, so rows deleted since (an update in hand) leave no copy."""
        self._checkpoint()

    def backup(self, target: Path) -> None:
        """A consistent copy of the database at `target`, taken while others keep writing."""
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        copy = sqlite3.connect(partial)
        try:
            # SQLite's online backup copies page by page and starts again if a write lands.
            self.db.conn.backup(copy)
            copy.execute("pragma journal_mode = delete")  # one self-contained file
        finally:
            copy.close()
        partial.chmod(0o600)  # it holds the reports, and contact details left with them
        partial.replace(target)  # never a half-written backup under the real name

    def close(self) -> None:
        """Close the database."""
        self.db.conn.close()


class MemoryStore:
    """The same interface in memory, for tests."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.events: Counter[tuple[str, str, str, str, str]] = Counter()
        self.filed: list[tuple[Report, str | None]] = []
        self.updates: dict[str, str | None] = {}
        self.message_ids: dict[str, set[tuple[float, int]]] = {}
        self.inbox: dict[int, tuple[str, bytes, float, int]] = {}  # row: channel, body, at, tries
        self.staff_posts: dict[str, int] = {}  # reference: parts posted
        self._rows = 0

    def commit(
        self,
        key: str,
        session: Session | None,
        report: Report | None,
        user_key: str | None,
        update: str | None,
    ) -> None:
        """Save (or drop) the session, file the report, mark the update."""
        if session is None:
            self.sessions.pop(key, None)
        else:
            self.sessions[key] = session
        if report is not None:
            self.filed.append((report, user_key))
            self.staff_posts[report.reference] = 0
        if update is not None:
            self.updates[update] = report.reference if report else None

    def processed(self, update: str) -> tuple[bool, str | None]:
        """Whether an update was handled already, and the reference it filed, if any."""
        return (update in self.updates, self.updates.get(update))

    def ping(self) -> None:
        """Always readable."""

    def reports(self, since: str = "") -> list[Report]:
        """Reports filed on or after `since`."""
        return [r for r, _ in self.filed if r.created_at >= since]

    def load_session(self, key: str, now: float) -> Session | None:
        """The person's session, unless it has expired."""
        s = self.sessions.get(key)
        return s if s is not None and now - s.updated_at <= SESSION_TTL else None

    def save_session(self, key: str, session: Session) -> None:
        """Remember a session."""
        self.sessions[key] = session

    def forget(self, key: str) -> None:
        """Erase every row about the person."""
        self.sessions.pop(key, None)
        for report, user_key in self.filed:
            if user_key == key:
                self.staff_posts.pop(report.reference, None)
        self.filed = [(r, k) for r, k in self.filed if k != key]
        self.message_ids.pop(key, None)

    def keep_message_ids(self, rows: Iterable[tuple[str, int, float]]) -> None:
        """Remember (key, message id, when) of messages quick exit may delete."""
        for key, message_id, at in rows:
            self.message_ids.setdefault(key, set()).add((at, message_id))

    def take_message_ids(self, key: str) -> list[tuple[float, int]]:
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
        """Reports not yet wholly posted to the staff chat, with parts posted."""
        return [(r, self.staff_posts[r.reference]) for r, _ in self.filed
                if r.reference in self.staff_posts]  # fmt: skip

    def post_progress(self, reference: str, parts: int, done: bool) -> None:
        """Note how many parts of a report's staff post went out."""
        if done:
            self.staff_posts.pop(reference, None)
        elif reference in self.staff_posts:
            self.staff_posts[reference] = parts

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
        """Drop expired sessions and old reports."""
        old = [k for k, s in self.sessions.items() if now - s.updated_at > SESSION_TTL]
        for k in old:
            del self.sessions[k]
        cutoff = datetime.fromtimestamp(now - report_days * 86400, UTC).isoformat()
        kept = [(r, k) for r, k in self.filed if r.created_at >= cutoff]
        gone, self.filed = len(self.filed) - len(kept), kept
        references = {r.reference for r, _ in kept}
        self.staff_posts = {k: v for k, v in self.staff_posts.items() if k in references}
        self.inbox = {k: v for k, v in self.inbox.items() if v[2] >= now - INBOX_TTL}
        for key, ids in list(self.message_ids.items()):
            ids -= {entry for entry in ids if entry[0] < now - MESSAGE_IDS_TTL}
            if not ids:
                del self.message_ids[key]
        return len(old), gone


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
