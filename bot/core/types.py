"""The few shapes that cross the engine's one entry point."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any


class Kind(enum.StrEnum):
    """What an inbound event carries."""

    TEXT = "text"
    CHOICE = "choice"
    COMMAND = "command"
    LOCATION = "location"
    UNSUPPORTED = "unsupported"  # a sticker, photo, voice note: answered politely
    EDITED = "edited"  # a change to a message already answered: asked to send it anew


@dataclass(frozen=True)
class Inbound:
    """One thing a person did: typed, pressed, sent a command or a location."""

    kind: Kind
    text: str = ""
    arg: str = ""
    location: tuple[float, float] | None = None
    lang_hint: str | None = None  # the device language the channel reports, if any

    @classmethod
    def message(cls, text: str, lang_hint: str | None = None) -> Inbound:
        """A typed message."""
        return cls(Kind.TEXT, text=text, lang_hint=lang_hint)

    @classmethod
    def typed(cls, text: str, lang_hint: str | None = None) -> Inbound:
        """What a person typed: a slash command ("/start@SaferKCBot so_youth") or a message."""
        if not text.startswith("/"):
            return cls.message(text, lang_hint)
        head, _sep, arg = text[1:].partition(" ")
        return cls.command(head.split("@", 1)[0], arg.strip(), lang_hint)

    @classmethod
    def choice(cls, choice_id: str, lang_hint: str | None = None) -> Inbound:
        """A pressed button (or a numbered choice in the console)."""
        return cls(Kind.CHOICE, text=choice_id, lang_hint=lang_hint)

    @classmethod
    def command(cls, name: str, arg: str = "", lang_hint: str | None = None) -> Inbound:
        """A slash command such as /start or /exit."""
        return cls(Kind.COMMAND, text=name, arg=arg, lang_hint=lang_hint)


class Effect(enum.StrEnum):
    """A side effect the engine asks the channel or store to carry out."""

    ERASE_CHAT = "erase_chat"  # delete the conversation from the person's phone where possible
    RESET = "reset"  # drop the session: the conversation starts afresh
    FORGET = "forget"  # erase everything stored about the person


@dataclass(frozen=True)
class Choice:
    """A button: an opaque id and its label."""

    id: str
    label: str


@dataclass(frozen=True)
class Reply:
    """One message to send, already translated; `**bold**` is the only markup."""

    text: str
    choices: tuple[Choice, ...] = ()
    request_location: bool = False
    effects: tuple[Effect, ...] = ()
    rtl: bool = False
    lang: str = "en"  # the language it is written in, for labels a channel adds
    # The screen takes a typed answer: a number typed now is that answer, never a choice.
    typed_answer: bool = False


@dataclass(frozen=True)
class Asked:
    """The question back last asked: its kind ("danger", "who" or "topic") and its options."""

    kind: str
    options: tuple[str, ...] = ()


@dataclass
class Session:
    """What the assistant remembers between two messages: never the person's words."""

    lang: str | None = None
    node: str = "menu"
    updated_at: float = 0.0
    results: tuple[str, ...] = ()  # the services last found for typed words, by id
    came_from: str = ""  # the screen those words were typed on: Back from the results
    topic: str = ""  # the topic whose services are being looked through
    topic_page: int = 1
    asked: Asked | None = None  # the question back on screen
    after_lang: str = ""  # the screen to show once a language is chosen
    # The report form's answers so far: held in memory by the service, never written to disk.
    draft: dict[str, str] = field(default_factory=dict)

    def stored(self) -> str:
        """What the store writes besides the language and the screen, as JSON: never the draft."""
        kept: dict[str, Any] = {
            "results": list(self.results),
            "came_from": self.came_from,
            "topic": self.topic,
            "topic_page": self.topic_page,
            "ask": self.asked and {"kind": self.asked.kind, "options": list(self.asked.options)},
            "after_lang": self.after_lang,
        }
        kept = {k: v for k, v in kept.items() if v and not (k == "topic_page" and v == 1)}
        return json.dumps(kept, ensure_ascii=False)

    @classmethod
    def restored(cls, lang: str | None, node: str, stored: str, updated_at: float) -> Session:
        """A session as the store wrote it; anything unreadable is left out, never an error."""
        try:
            data = json.loads(stored)
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        ask: dict[str, Any] = data["ask"] if isinstance(data.get("ask"), dict) else {}
        options = tuple(str(o) for o in _listed(ask.get("options")))
        page = data.get("topic_page")
        return cls(
            lang=lang,
            node=node,
            updated_at=float(updated_at),
            results=tuple(str(r) for r in _listed(data.get("results"))),
            came_from=str(data.get("came_from") or ""),
            topic=str(data.get("topic") or ""),
            topic_page=page if isinstance(page, int) and page > 0 else 1,
            asked=Asked(str(ask["kind"]), options) if ask.get("kind") else None,
            after_lang=str(data.get("after_lang") or ""),
        )


def _listed(value: Any) -> list[str]:
    """The strings of a stored list; nothing for anything else."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
