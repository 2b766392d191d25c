"""The few shapes that cross the engine's one entry point."""

from __future__ import annotations

import enum
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


@dataclass
class Session:
    """What the assistant remembers between two messages: never the person's words."""

    lang: str | None = None
    node: str = "menu"
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0
