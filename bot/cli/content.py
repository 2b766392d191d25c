"""Commands for content: check the directory, and see what the assistant would suggest."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING

from bot.content.corpus import CorpusError
from bot.content.directory import DirectoryError, load_directory
from bot.content.flows import FlowError
from bot.content.loader import content_root, load_content

if TYPE_CHECKING:
    pass

log = logging.getLogger("bot")


def directory_check() -> int:
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


def search(args: argparse.Namespace) -> int:
    """`bot search`: what the assistant would understand and suggest for each query."""
    from bot.core.screens import ASK_DANGER, REMINDER
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
            print(f"EMERGENCY: {_(REMINDER)}")  # the 999 card comes first, in the language
        elif reading.danger is Danger.MAYBE:
            print(f"ASK: {_(ASK_DANGER)}")
        if reading.command:
            print(f"COMMAND: {reading.command}")
        if reading.screen:
            print(f"SCREEN: {reading.screen}")
        if reading.ask:
            print(f"ASK: {reading.ask.kind}: {', '.join(reading.ask.options)}")
        for h in hits:
            print(f"{h.score:5.1f}  {h.id}  {_(services[h.id].name)}")
    return 0
