"""Telegram's side of the channel contract, pure: replies to HTML messages, messages to events."""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from dataclasses import dataclass

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)

from bot.channels.markup import bold
from bot.content.i18n import N_, right_to_left
from bot.core.types import Choice, Inbound, Kind, Reply
from bot.understanding.text import split_text

MAX_TEXT = 4096  # Telegram's limit for one message, counted after markup is parsed
MAX_CALLBACK = 64  # bytes of callback data Telegram keeps on a button
PAIR_LABEL = 14  # two buttons share a row when both labels are this short

SHARE_LOCATION = N_("📍 Share my location")
SHARE_LOCATION_HINT = N_("Or press the button below to share where you are.")


@dataclass(frozen=True)
class Outgoing:
    """One sendMessage: HTML text and the buttons under it."""

    html: str
    markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None


def render(reply: Reply, gettext: Callable[[str], str]) -> list[Outgoing]:
    """A reply as the messages that show it: long text split, the buttons under the last part."""
    parts = split_text(reply.text)
    messages = [
        Outgoing(to_html(part), keyboard(reply.choices) if i == len(parts) - 1 else None)
        for i, part in enumerate(parts)
    ]
    if reply.request_location:
        button = KeyboardButton(gettext(SHARE_LOCATION), request_location=True)
        markup = ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)
        hint = gettext(SHARE_LOCATION_HINT)
        hint = right_to_left(hint) if reply.rtl else hint
        messages.append(Outgoing(html.escape(hint), markup))
    return messages


def to_html(text: str) -> str:
    """Reply text as Telegram HTML: everything escaped, then `**bold**` as <b>."""
    return bold(html.escape(text, quote=False), "<b>", "</b>")


def callback_data(choice: Choice) -> str:
    """A button's data: the choice id (never the person's words), within Telegram's 64 bytes."""
    data = choice.id
    if len(data.encode()) > MAX_CALLBACK:
        raise ValueError(f"choice id longer than {MAX_CALLBACK} bytes: {data[:20]}...")
    return data


@functools.lru_cache(maxsize=2048)
def keyboard(choices: tuple[Choice, ...]) -> InlineKeyboardMarkup | None:
    """Inline buttons, short ones two to a row (menus repeat, and the markup is immutable)."""
    if not choices:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for c in choices:
        button = InlineKeyboardButton(c.label, callback_data=callback_data(c))
        last = rows[-1] if rows else None
        if last and len(last) == 1 and max(len(c.label), len(last[0].text)) <= PAIR_LABEL:
            last.append(button)
        else:
            rows.append([button])
    return InlineKeyboardMarkup(rows)


def inbound_from(message: Message, lang_hint: str | None) -> Inbound:
    """What a person sent, as the engine's inbound event."""
    if message.text is not None:
        return Inbound.typed(message.text, lang_hint)
    if message.location is not None:
        loc = message.location
        return Inbound(Kind.LOCATION, location=(loc.latitude, loc.longitude), lang_hint=lang_hint)
    return Inbound(Kind.UNSUPPORTED, lang_hint=lang_hint)


def staff_parts(text: str, limit: int = MAX_TEXT) -> list[str]:
    """A staff post as HTML messages under Telegram's limit: the first line bold, all escaped.

    Escaping can make a line five times longer ("&" is "&amp;"), so lines are measured once
    escaped, and a line too long even alone is cut, before escaping, where it has spaces.
    """
    parts: list[str] = []
    current = ""
    for n, line in enumerate(text.split("\n")):
        pieces = (
            [line] if len(html.escape(line, quote=False)) <= limit else split_text(line, limit // 6)
        )
        for piece in pieces:
            escaped = html.escape(piece, quote=False)
            if n == 0:
                escaped = f"<b>{escaped}</b>"
            if current and len(current) + 1 + len(escaped) > limit:
                parts.append(current)
                current = escaped
            else:
                current = f"{current}\n{escaped}" if current else escaped
    if current:
        parts.append(current)
    return parts
