"""The `bot` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence

from bot.cli import staff
from bot.cli.content import directory_check, search
from bot.cli.operations import backup, health, is_date, links, open_store
from bot.content.corpus import CorpusError
from bot.content.directory import DirectoryError
from bot.content.flows import FlowError, mermaid
from bot.content.i18n import LANGS
from bot.content.loader import load_content
from bot.service.logs import configure_logging
from bot.service.worker import WorkerError
from bot.settings import Settings, SettingsError

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bot", description="Safer K&C community-safety assistant.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start every configured channel; with none, the console chat")
    chat = sub.add_parser("chat", help="talk to the assistant in the terminal")
    chat.add_argument("--lang", choices=LANGS, help="language to use")
    chat.add_argument("--jsonl", action="store_true", help="JSON lines in and out, for programs")
    search = sub.add_parser("search", help="what the assistant would suggest for some words")
    search.add_argument("text", help="the words, or - to read one query a line")
    search.add_argument(
        "--lang", choices=LANGS, default="en", help="the language to name the services in"
    )
    search.add_argument("--json", action="store_true")
    search.add_argument("--limit", type=int, default=3)
    directory = sub.add_parser("directory", help="the service directory")
    directory.add_argument("action", choices=["check"])
    flows = sub.add_parser("flows", help="the conversation flows")
    flows.add_argument("action", choices=["check", "draw"])
    reports = sub.add_parser("reports", help="reports for the Community Safety Team")
    reports.add_argument("action", choices=["export"])
    reports.add_argument("--format", choices=["csv", "json"], default="csv")
    reports.add_argument("--since", default="", help="only reports from this date (YYYY-MM-DD)")
    sub.add_parser("stats", help="aggregate counts: topics, services, languages, channels")
    sub.add_parser("purge", help="apply the retention rules")
    sub.add_parser("health", help="ask the running bot's /healthz; exit status 0 when healthy")
    backup = sub.add_parser("backup", help="a consistent copy of the database, while it runs")
    backup.add_argument("path", help="the copy's file name, or a folder for a dated one")
    links = sub.add_parser("links", help="Telegram deep links for posters, with QR codes")
    links.add_argument("--username", default="", help="the bot's username (else asked of Telegram)")
    links.add_argument("--out", default="qr", help="folder for the QR code PNGs")
    staff.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(argv)
    configure_logging()
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_format, settings.log_level)
        return _dispatch(args, settings)
    except SettingsError as exc:
        print(f"Configuration problem: {exc}", file=sys.stderr)
    except (DirectoryError, FlowError, CorpusError) as exc:
        print(f"The content has problems:\n{exc}", file=sys.stderr)
    except WorkerError as exc:
        print(f"Could not start: {exc}", file=sys.stderr)
    return 2


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "directory":
        return directory_check()
    if args.command == "flows":
        content = load_content()
        drawing = mermaid(content.nodes, content.directory.topics)
        names = {c.name for c in content.commands.values()}
        checked = f"{len(content.nodes)} nodes and {len(names)} commands OK"
        print(drawing if args.action == "draw" else checked)
        return 0
    if args.command == "search":
        return search(args)
    if args.command in ("chat", "run"):
        return _chat(args, settings)
    if args.command == "reports":
        from bot.core.reports import export_csv, export_json

        if args.since and not is_date(args.since):
            print(f"--since must be a date like 2026-11-01, not {args.since!r}", file=sys.stderr)
            return 2
        found = open_store(settings).reports(args.since)
        sys.stdout.write(export_csv(found) if args.format == "csv" else export_json(found) + "\n")
        return 0
    if args.command == "stats":
        print(json.dumps(open_store(settings).stats(), indent=2, ensure_ascii=False))
        return 0
    if args.command == "links":
        return links(args, settings)
    if args.command == "health":
        return health(settings)
    if args.command == "backup":
        return backup(args.path, settings)
    if args.command == "staff":
        return staff.staff(args, settings)
    if args.command == "purge":
        sessions, reports = open_store(settings).purge(time.time(), settings.report_retention_days)
        print(f"removed {sessions} idle session(s) and {reports} report(s) past retention")
        return 0
    return 2


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.console import run_chat, run_jsonl
    from bot.core.engine import Engine
    from bot.service.conversation import Conversations
    from bot.storage.sqlite import SqliteStore
    from bot.storage.store import load_secret

    if args.command == "run" and settings.channels:
        import asyncio

        from telegram.error import InvalidToken, NetworkError

        from bot.runner import run

        try:
            asyncio.run(run(settings))
        except InvalidToken:
            # Its message repeats the token: say what to do instead.
            print("Telegram refused TELEGRAM_BOT_TOKEN: copy it again from @BotFather's /token.",
                  file=sys.stderr)  # fmt: skip
            return 2
        except NetworkError as exc:
            print(f"Could not reach Telegram at {settings.telegram_api_url} "
                  f"({type(exc).__name__}): check the network and TELEGRAM_API_URL.",
                  file=sys.stderr)  # fmt: skip
            return 2
        return 0
    engine = Engine(load_content())
    store = SqliteStore(settings.db_path)
    conv = Conversations(engine, store, load_secret(settings.data_dir))
    lang = getattr(args, "lang", None)
    try:
        if getattr(args, "jsonl", False):
            run_jsonl(conv, lang, sys.stdin, sys.stdout)
        else:
            run_chat(conv, lang)
    except KeyboardInterrupt:
        print()
    finally:
        store.close()
    return 0
