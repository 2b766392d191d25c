"""Commands for operators: health, backups, links for posters, and the store they open."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from bot.content.loader import load_content
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.storage.sqlite import SqliteStore

log = logging.getLogger("bot")


def health(settings: Settings) -> int:
    import httpx

    host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
    url = f"http://{host}:{settings.port}/healthz"
    try:
        answer = httpx.get(url, timeout=4)
    except httpx.HTTPError as exc:
        print(f"unhealthy: no answer from {url} ({type(exc).__name__})", file=sys.stderr)
        return 1
    if answer.status_code != 200:
        print(f"unhealthy: {answer.status_code} {answer.text}", file=sys.stderr)
        return 1
    return 0


def backup(path: str, settings: Settings) -> int:
    from datetime import UTC, datetime
    from pathlib import Path

    if not settings.db_path.exists():
        print(f"There is no database at {settings.db_path} (check BOT_DATA_DIR).", file=sys.stderr)
        return 2
    target = Path(path)
    if target.is_dir():
        target /= f"bot-{datetime.now(UTC):%Y-%m-%dT%H%M%SZ}.db"
    if target.exists():
        print(f"{target} exists already: choose another name, or delete it first.", file=sys.stderr)
        return 2
    if not target.parent.is_dir():
        print(f"There is no folder {target.parent} to write the backup in.", file=sys.stderr)
        return 2
    store = open_store(settings)
    try:
        store.backup(target)
        count = len(store.reports())
    finally:
        store.close()
    # Keep it with the data directory's secret.key, which the sessions' keys depend on.
    print(f"backed up {settings.db_path} to {target} ({count} report(s))")
    return 0


def links(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from bot.channels.links import deep_links, write_qr_codes

    username = args.username
    if not username and settings.telegram_token is not None:
        import asyncio

        from telegram import Bot

        async def ask() -> str:
            assert settings.telegram_token is not None
            base = f"{settings.telegram_api_url.rstrip('/')}/bot"
            async with Bot(settings.telegram_token.value, base_url=base) as tg:
                return str(tg.username)

        username = asyncio.run(ask())
    if not username:
        print(
            "Give the bot's username with --username, or set TELEGRAM_BOT_TOKEN.", file=sys.stderr
        )
        return 2
    found = deep_links(load_content(), username)
    write_qr_codes(found, Path(args.out))
    for link in found:
        print(f"{link.url}\t{link.title}")
    print(f"{len(found)} links; QR codes in {args.out}/", file=sys.stderr)
    return 0


def open_store(settings: Settings) -> SqliteStore:
    from bot.storage.sqlite import SqliteStore

    return SqliteStore(settings.db_path)


def is_date(text: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
