"""The SQLite tables: what the assistant keeps, and nothing else."""

from __future__ import annotations

import sqlite_utils

from bot.core.reports import Report


def create_tables(db: sqlite_utils.Database) -> None:
    """Create every table the store needs, if it is not there yet."""
    db.table("sessions").create(
        {"key": str, "lang": str, "node": str, "data": str, "updated_at": float},
        pk="key",
        if_not_exists=True,
    )
    db.table("events").create(
        {"day": str, "channel": str, "lang": str, "kind": str, "value": str, "count": int},
        pk=("day", "channel", "lang", "kind", "value"),
        if_not_exists=True,
    )
    columns: dict[str, type] = {c: str for c in Report.__dataclass_fields__}
    db.table("reports").create({**columns, "user_key": str}, pk="reference", if_not_exists=True)
    db.table("processed").create(
        {"update_key": str, "at": float, "reference": str}, pk="update_key", if_not_exists=True
    )
    # Ids and times only, never what the messages said: what quick exit deletes.
    db.table("message_ids").create(
        {"key": str, "message_id": int, "at": float},
        pk=("key", "message_id"),
        if_not_exists=True,
    )
    # Updates from their arrival until their turn is done (milliseconds, unless a crash
    # comes between): what makes answering a webhook before the turn safe.
    db.execute(
        "create table if not exists inbox (row integer primary key autoincrement, "
        "channel text not null, body blob not null, at float not null, tries int default 0)"
    )
    # References of reports whose post to the staff chat has not wholly gone out.
    db.table("staff_posts").create(
        {"reference": str, "at": float, "parts": int}, pk="reference", if_not_exists=True
    )
