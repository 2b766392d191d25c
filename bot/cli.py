"""The `bot` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.content.corpus import CorpusError
from bot.content.directory import DirectoryError, load_directory
from bot.content.flows import FlowError, mermaid
from bot.content.i18n import LANGS
from bot.content.loader import content_root, load_content
from bot.service.logs import configure_logging
from bot.service.worker import WorkerError
from bot.settings import Settings, SettingsError

if TYPE_CHECKING:
    from bot.storage.sqlite import SqliteStore

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
        return _directory_check()
    if args.command == "flows":
        content = load_content()
        drawing = mermaid(content.nodes, content.directory.topics)
        print(drawing if args.action == "draw" else f"{len(content.nodes)} nodes OK")
        return 0
    if args.command == "search":
        return _search(args)
    if args.command in ("chat", "run"):
        return _chat(args, settings)
    if args.command == "reports":
        from bot.core.reports import export_csv, export_json

        if args.since and not _is_date(args.since):
            print(f"--since must be a date like 2026-11-01, not {args.since!r}", file=sys.stderr)
            return 2
        found = _store(settings).reports(args.since)
        sys.stdout.write(export_csv(found) if args.format == "csv" else export_json(found) + "\n")
        return 0
    if args.command == "stats":
        print(json.dumps(_store(settings).stats(), indent=2, ensure_ascii=False))
        return 0
    if args.command == "links":
        return _links(args, settings)
    if args.command == "health":
        return _health(settings)
    if args.command == "backup":
        return _backup(args.path, settings)
    if args.command == "purge":
        sessions, reports = _store(settings).purge(time.time(), settings.report_retention_days)
        print(f"removed {sessions} idle session(s) and {reports} report(s) past retention")
        return 0
    return 2


def _health(settings: Settings) -> int:
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


def _backup(path: str, settings: Settings) -> int:
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
    store = _store(settings)
    try:
        store.backup(target)
        count = len(store.reports())
    finally:
        store.close()
    # Keep it with the data directory's secret.key, which the sessions' keys depend on.
    print(f"backed up {settings.db_path} to {target} ({count} report(s))")
    return 0


def _links(args: argparse.Namespace, settings: Settings) -> int:
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


def _store(settings: Settings) -> SqliteStore:
    from bot.storage.sqlite import SqliteStore

    return SqliteStore(settings.db_path)


def _is_date(text: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _directory_check() -> int:
    from bot.content.corpus import check, load_examples, load_situations
    from bot.content.flows import load_flows

    root = content_root()
    path = root / "directory.yaml"
    try:
        directory = load_directory(path)
        situations = load_situations(root / "situations.yaml")
        nodes = load_flows(root / "flows", directory)
    except (DirectoryError, CorpusError, FlowError) as exc:
        print(f"{len(exc.problems)} problem(s) in {root}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    examples = load_examples(root / "locales")
    groups = {sid: s.groups for sid, s in directory.services.items()}
    problems, warnings = check(situations, examples, groups, set(nodes))
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {root}:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(
        f"{path}: {len(directory.topics)} topics, {len(directory.services)} services; "
        f"{len(situations)} situations, {len(examples)} examples, all OK"
    )
    return 0


def _search(args: argparse.Namespace) -> int:

    from bot.understanding.reader import Danger, load_understanding

    content = load_content()
    understanding = load_understanding(content)
    _ = content.catalogs.get(args.lang)
    services = content.directory.services
    queries = (line.rstrip("\n") for line in sys.stdin) if args.text == "-" else [args.text]
    for query in queries:
        reading = understanding.read(query)
        hits = reading.hits[: args.limit]
        if args.json:
            out = {
                "lang": args.lang,
                "emergency": reading.danger is Danger.YES,
                "danger": reading.danger.value,
                "situations": [{"id": sid, "p": round(p, 3)} for sid, p in reading.situations[:3]],
                "results": [
                    {"id": h.id, "name": _(services[h.id].name), "score": h.score} for h in hits
                ],
                "screen": reading.screen,
                "command": reading.command,
                "ask": reading.ask and {"kind": reading.ask.kind, "options": reading.ask.options},
            }
            print(json.dumps(out, ensure_ascii=False), flush=True)
            continue
        if reading.danger is Danger.YES:
            print(
                "EMERGENCY: call 999 (if you cannot speak, stay on the line; "
                "on a mobile, press 55 when asked)"
            )
        elif reading.danger is Danger.MAYBE:
            print("ASK: is someone in danger right now?")
        if reading.command:
            print(f"COMMAND: {reading.command}")
        if reading.screen:
            print(f"SCREEN: {reading.screen}")
        if reading.ask:
            print(f"ASK: {reading.ask.kind}: {', '.join(reading.ask.options)}")
        for h in hits:
            print(f"{h.score:5.1f}  {h.id}  {_(services[h.id].name)}")
    return 0


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
