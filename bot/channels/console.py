"""The console channel: numbered choices for people, JSON lines for programs."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from bot.core.types import Inbound, Kind, Reply
from bot.service.conversation import Conversations

CHANNEL = "console"
USER = "local"


def plain(text: str) -> str:
    """The console shows no markup."""
    return text.replace("**", "")


def parse_line(line: str, lang: str | None) -> tuple[Inbound, str | None]:
    """One input line as an inbound event, or an empty message and why the line was unreadable."""
    line = line.rstrip("\r\n")
    if not line.lstrip().startswith("{"):
        return Inbound.typed(line, lang), None
    try:
        obj: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        return Inbound.message("", lang), f"not valid JSON: {exc.msg}"
    if not isinstance(obj, dict):
        return Inbound.message("", lang), "expected a JSON object"
    if isinstance(obj.get("choice"), str):
        return Inbound.choice(obj["choice"], lang), None
    if isinstance(obj.get("command"), str):
        return Inbound.command(obj["command"], str(obj.get("arg") or ""), lang), None
    loc = obj.get("location")
    if isinstance(loc, list) and len(loc) == 2 and all(isinstance(x, int | float) for x in loc):
        return Inbound(Kind.LOCATION, location=(float(loc[0]), float(loc[1])), lang_hint=lang), None
    if isinstance(obj.get("text"), str):
        return Inbound.message(obj["text"], lang), None
    return Inbound.message("", lang), 'expected "text", "choice", "command" or "location"'


def reply_json(reply: Reply, error: str | None = None) -> str:
    """One reply as one JSON line."""
    out: dict[str, Any] = {
        "text": reply.text,
        "choices": [{"id": c.id, "label": c.label} for c in reply.choices],
    }
    if reply.request_location:
        out["request_location"] = True
    if reply.effects:
        out["effects"] = [e.value for e in reply.effects]
    if error:
        out["error"] = error
    return json.dumps(out, ensure_ascii=False)


def run_jsonl(conv: Conversations, lang: str | None, stdin: TextIO, stdout: TextIO) -> None:
    """Read one message a line; write one JSON object per reply."""
    if lang:
        conv.handle(CHANNEL, USER, Inbound.command("start", lang, lang))  # --lang wins
    for line in stdin:
        if not line.strip():
            continue
        inbound, error = parse_line(line, lang)
        for reply in conv.handle(CHANNEL, USER, inbound):
            stdout.write(reply_json(reply, error) + "\n")
            error = None
        stdout.flush()


def run_chat(conv: Conversations, lang: str | None, stdin: TextIO = sys.stdin,
             stdout: TextIO = sys.stdout) -> None:  # fmt: skip
    """Talk to the assistant in a terminal: type a number, a question, or /exit."""
    stdout.write(
        "Safer K&C — type a number to choose, or write your question. Ctrl-D to leave.\n\n"
    )
    # `/start ar` chooses the language even when an earlier session had another: --lang wins.
    replies = conv.handle(CHANNEL, USER, Inbound.command("start", lang or "", lang))
    while True:
        # Numbered on from one reply to the next, so every choice shown in a turn (the 999
        # card's as well as the answer's) has its own number.
        choices: list[str] = []
        for reply in replies:
            stdout.write(plain(reply.text) + "\n")
            for c in reply.choices:
                choices.append(c.id)
                stdout.write(f"  {len(choices)}. {c.label}\n")
            stdout.write("\n")
        stdout.write("> ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            stdout.write("\n")
            return
        text = line.strip()
        if text.isdecimal() and 1 <= int(text) <= len(choices):
            inbound = Inbound.choice(choices[int(text) - 1], lang)
        else:
            inbound, _error = parse_line(text, lang)
        replies = conv.handle(CHANNEL, USER, inbound)
