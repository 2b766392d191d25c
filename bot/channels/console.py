"""The console channel: numbered choices for people, JSON lines for programs."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from bot.channels.markup import bold
from bot.core.types import Inbound, Kind, Reply
from bot.service.conversation import Conversations

CHANNEL = "console"
USER = "local"


def plain(text: str) -> str:
    """The console shows no markup."""
    return bold(text, "", "")


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


class ConsoleChat:
    """One person at a terminal: numbered choices in, plain text out."""

    def __init__(self, conv: Conversations, lang: str | None) -> None:
        self.conv = conv
        self.lang = lang
        self.choices: list[str] = []  # the ids of the choices shown last, by number
        self.typed_answer = False  # the last screen takes a typed answer

    def start(self) -> str:
        """The first screen: `/start ar` chooses the language even over an earlier session's."""
        return self.show(
            self.conv.handle(CHANNEL, USER, Inbound.command("start", self.lang or "", self.lang))
        )

    def send(self, line: str) -> str:
        """What the person typed, and what the assistant shows back."""
        return self.show(self.conv.handle(CHANNEL, USER, self.read(line)))

    def read(self, line: str) -> Inbound:
        """A number chooses, except where the screen asks for typed words: then it is the answer."""
        text = line.strip()
        if not self.typed_answer and text.isdecimal() and 1 <= int(text) <= len(self.choices):
            return Inbound.choice(self.choices[int(text) - 1], self.lang)
        return parse_line(text, self.lang)[0]

    def show(self, replies: list[Reply]) -> str:
        """The replies as the terminal shows them.

        Choices are numbered on from one reply to the next, so every choice shown in a turn
        (the 999 card's as well as the answer's) has its own number. Where the screen takes a
        typed answer they are listed without numbers, to be chosen by their words.
        """
        self.choices = []
        self.typed_answer = any(r.typed_answer for r in replies)
        out = []
        for reply in replies:
            out.append(plain(reply.text))
            for c in reply.choices:
                self.choices.append(c.id)
                mark = "-" if self.typed_answer else f"{len(self.choices)}."
                out.append(f"  {mark} {c.label}")
            out.append("")
        return "\n".join(out) + "\n"


def run_chat(conv: Conversations, lang: str | None, stdin: TextIO = sys.stdin,
             stdout: TextIO = sys.stdout) -> None:  # fmt: skip
    """Talk to the assistant in a terminal: type a number, a question, or /exit."""
    stdout.write(
        "Safer K&C — type a number to choose, or write your question. Ctrl-D to leave.\n\n"
    )
    chat = ConsoleChat(conv, lang)
    shown = chat.start()
    while True:
        stdout.write(shown + "> ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            stdout.write("\n")
            return
        shown = chat.send(line)
