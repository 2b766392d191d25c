"""The production store: one SQLite file (sqlite-utils, WAL mode)."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from bot.core.reports import Report
from bot.core.types import Session
from bot.storage.guard import unavailable
from bot.storage.schema import create_tables
from bot.storage.store import (
    INBOX_TRIES,
    INBOX_TTL,
    MESSAGE_IDS_TTL,
    PROCESSED_TTL,
    SESSION_TTL,
    STAFF_POSTS_TTL,
    PersonKey,
    StoreFull,
)

MIN_FREE = 20_000_000  # bytes; under this, /healthz says the database cannot be written
BUSY_TIMEOUT = 10.0  # seconds to wait for another process's write (a backup, a purge) to finish


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
        create_tables(self.db)

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

    @unavailable
    def load_session(self, key: PersonKey, now: float) -> Session | None:
        """The person's session, unless it has expired."""
        rows = list(self.db.query("select * from sessions where key = ?", [key]))
        if not rows or now - rows[0]["updated_at"] > SESSION_TTL:
            return None
        row = rows[0]
        return Session.restored(row["lang"], row["node"], row["data"], row["updated_at"])

    @unavailable
    def save_session(self, key: PersonKey, session: Session) -> None:
        """Remember a session."""
        row = {
            "key": key,
            "lang": session.lang,
            "node": session.node,
            "data": session.stored(),
            "updated_at": session.updated_at,
        }
        self.db.table("sessions").upsert(row, pk="key")

    @unavailable
    def forget(self, key: PersonKey) -> None:
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

    @unavailable
    def commit(
        self,
        key: PersonKey,
        session: Session | None,
        report: Report | None,
        user_key: PersonKey | None,
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
                    [key, session.lang, session.node, session.stored(), session.updated_at],
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

    @unavailable
    def processed(self, update: str) -> tuple[bool, str | None]:
        """Whether an update was handled already, and the reference it filed, if any."""
        rows = list(self.db.query("select * from processed where update_key = ?", [update]))
        return (True, rows[0]["reference"]) if rows else (False, None)

    @unavailable
    def reports(self, since: str = "") -> list[Report]:
        """Reports filed on or after `since` (an ISO date), oldest first."""
        sql = "select * from reports where created_at >= ? order by created_at"
        fields = Report.__dataclass_fields__
        return [
            Report(**{k: v or "" for k, v in row.items() if k in fields})
            for row in self.db.query(sql, [since])
        ]

    @unavailable
    def record(self, day: str, channel: str, lang: str, events: Iterable[tuple[str, str]]) -> None:
        """Add to the daily aggregate counts."""
        rows = [(day, channel, lang, k, v, n) for (k, v), n in Counter(events).items()]
        self.db.conn.executemany(
            "insert into events (day, channel, lang, kind, value, count) values (?, ?, ?, ?, ?, ?) "
            "on conflict (day, channel, lang, kind, value) "
            "do update set count = count + excluded.count",
            rows,
        )

    @unavailable
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

    @unavailable
    def purge(self, now: float, report_days: int = 365) -> tuple[int, int]:
        """Drop expired sessions, reports older than `report_days`, and old update ids."""
        cutoff = datetime.fromtimestamp(now - report_days * 86400, UTC).isoformat()
        with self._immediate():
            sessions = self.db.execute(
                "delete from sessions where updated_at < ?", [now - SESSION_TTL]
            ).rowcount
            reports = self.db.execute("delete from reports where created_at < ?", [cutoff]).rowcount
            self.db.execute("delete from processed where at < ?", [now - PROCESSED_TTL])
            self.db.execute("delete from message_ids where at < ?", [now - MESSAGE_IDS_TTL])
            self.db.execute("delete from inbox where at < ?", [now - INBOX_TTL])
            self.db.execute(
                "delete from staff_posts where at < ? or reference not in "
                "(select reference from reports)",
                [now - STAFF_POSTS_TTL],
            )
        self._checkpoint()
        return int(sessions), int(reports)

    @unavailable
    def ping(self) -> None:
        """Raise if the database cannot be read, or written (locked, read-only, disk full)."""
        self.db.execute("select count(*) from sessions").fetchone()
        # Taking the write lock proves the file is writable; the disk's room is checked too,
        # since SQLite only finds a full disk when it next has to grow the file.
        with self._immediate():
            pass
        if shutil.disk_usage(self.path.parent).free < MIN_FREE:
            raise StoreFull(f"under {MIN_FREE // 1_000_000} MB free beside the database")

    @unavailable
    def keep_message_ids(self, rows: Iterable[tuple[PersonKey, int, float]]) -> None:
        """Remember (key, message id, when) of messages quick exit may delete after a restart."""
        with self._immediate():
            self.db.conn.executemany(
                "insert or ignore into message_ids (key, message_id, at) values (?, ?, ?)", rows
            )

    @unavailable
    def take_message_ids(self, key: PersonKey) -> list[tuple[float, int]]:
        """The (when, message id) remembered for a person, forgetting them."""
        with self._immediate() as conn:
            sql = "select at, message_id from message_ids where key = ?"
            found = [(float(at), int(mid)) for at, mid in conn.execute(sql, [key])]
            conn.execute("delete from message_ids where key = ?", [key])
        return found

    @unavailable
    def inbox_add(self, channel: str, bodies: Sequence[bytes], now: float) -> list[int]:
        """Keep updates that have arrived but whose turns are not done, in one write; their rows."""
        sql = "insert into inbox (channel, body, at) values (?, ?, ?)"
        with self._immediate() as conn:
            return [int(conn.execute(sql, [channel, b, now]).lastrowid or 0) for b in bodies]

    @unavailable
    def inbox_done(self, row: int) -> None:
        """Delete an update whose turn is done."""
        self.db.execute("delete from inbox where row = ?", [row])

    @unavailable
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

    @unavailable
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

    @unavailable
    def post_progress(self, reference: str, parts: int, done: bool) -> None:
        """Note how many parts of a report's staff post went out; forget it once all did."""
        if done:
            self.db.execute("delete from staff_posts where reference = ?", [reference])
        else:
            sql = "update staff_posts set parts = ? where reference = ?"
            self.db.execute(sql, [parts, reference])

    @unavailable
    def tidy(self) -> None:
        """Empty the write-ahead log, so rows deleted since (an update in hand) leave no copy."""
        self._checkpoint()

    @unavailable
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
