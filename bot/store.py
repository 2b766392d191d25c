"""State behind a narrow interface: SQLite (sqlite-utils, WAL) in production, memory in tests."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import sqlite_utils

from bot.types import Session

SESSION_TTL = 24 * 3600.0  # a session is forgotten after a day without messages


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

    def purge(self, now: float) -> int:
        """Drop expired sessions; return how many went."""


class SqliteStore:
    """The production store: one SQLite file in WAL mode."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self.db = sqlite_utils.Database(conn)
        self.db.enable_wal()
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
        self.db.execute("delete from sessions where key = ?", [key])

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

    def purge(self, now: float) -> int:
        """Drop expired sessions."""
        cur = self.db.execute("delete from sessions where updated_at < ?", [now - SESSION_TTL])
        return int(cur.rowcount)

    def close(self) -> None:
        """Close the database."""
        self.db.conn.close()


class MemoryStore:
    """The same interface in memory, for tests."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.events: Counter[tuple[str, str, str, str, str]] = Counter()

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

    def record(self, day: str, channel: str, lang: str, events: Iterable[tuple[str, str]]) -> None:
        """Add to the aggregate counts."""
        for kind, value in events:
            self.events[(day, channel, lang, kind, value)] += 1

    def stats(self) -> dict[str, dict[str, int]]:
        """Totals by event kind and value."""
        out: dict[str, dict[str, int]] = {}
        for (_day, _channel, _lang, kind, value), n in self.events.items():
            out.setdefault(kind, {})[value] = out.get(kind, {}).get(value, 0) + n
        return out

    def purge(self, now: float) -> int:
        """Drop expired sessions."""
        old = [k for k, s in self.sessions.items() if now - s.updated_at > SESSION_TTL]
        for k in old:
            del self.sessions[k]
        return len(old)


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
