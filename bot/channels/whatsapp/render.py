"""WhatsApp's side of the channel contract, pure: replies to messages with buttons or lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pywa_async.types import (
    Button,
    Message,
    MessageType,
    Section,
    SectionList,
    SectionRow,
)

from bot.channels.markup import bold
from bot.content.i18n import N_, Translator, right_to_left
from bot.core.types import Choice, Effect, Inbound, Kind, Reply
from bot.understanding.text import split_text

MAX_TEXT = 4096  # a text message
MAX_BODY = 1024  # the body of a message with buttons or a list
MAX_BUTTONS, MAX_BUTTON_TITLE = 3, 20
MAX_ROWS, MAX_ROW_TITLE, MAX_ROW_DESCRIPTION, MAX_LIST_BUTTON = 10, 24, 72, 20
PAGE_PREFIX = "page:"
PAGES_KEPT = 24 * 3600.0  # how long "More" still works on an old list

# TRANSLATORS: WhatsApp's button that opens a list of choices; 20 characters at most.
LIST_BUTTON = N_("Choose")
# TRANSLATORS: the last row of a long WhatsApp list, to see the next choices; 24 characters at most.
MORE = N_("➡️ More")
# TRANSLATORS: the small line under a choice in a WhatsApp list; {number} stays as it is.
TYPE_NUMBER = N_("Or type {number}")
CHOOSE = N_("Choose from the list, or type the number.")
# TRANSLATORS: on an iPhone set to Arabic or Farsi the swipe is mirrored: write "swipe right".
CLEAR_CHAT = N_(
    "WhatsApp keeps this chat on your phone. To remove it, open your chat list. On Android: "
    "press and hold this chat, then choose Delete. On iPhone: swipe left on this chat, choose "
    "More, then Delete Chat."
)


@dataclass(frozen=True)
class Outgoing:
    """One WhatsApp message: text, and reply buttons or a list, or neither."""

    text: str
    buttons: list[Button] | SectionList | None = None


def to_whatsapp(text: str) -> str:
    """WhatsApp marks bold with single asterisks."""
    return bold(text, "*", "*")


def _sensitive(reply: Reply) -> bool:
    return Effect.ERASE_CHAT in reply.effects or any(c.id == "act:exit" for c in reply.choices)


def render(reply: Reply, _: Translator, page: int = 0) -> list[Outgoing]:
    """A reply in WhatsApp's idiom, within every limit of the Cloud API."""
    text = to_whatsapp(reply.text)
    if _sensitive(reply):
        # A bot cannot delete anything on a person's phone: say how they can.
        hint = _(CLEAR_CHAT)
        text = f"{text}\n\n{right_to_left(hint) if reply.rtl else hint}"
    choices = reply.choices
    if not choices:
        return [Outgoing(part) for part in split_text(text, MAX_TEXT)]
    out: list[Outgoing] = []
    if len(text) > MAX_BODY or page > 0:
        out = [Outgoing(part) for part in split_text(text, MAX_TEXT)] if page == 0 else []
        text = _(CHOOSE)
        if reply.rtl:
            text = right_to_left(text)
    if len(choices) <= MAX_BUTTONS and all(len(c.label) <= MAX_BUTTON_TITLE for c in choices):
        out.append(Outgoing(text, [Button(c.label, c.id) for c in choices]))
        return out
    out.append(Outgoing(text, list_of(choices, _, page)))
    return out


def list_of(choices: tuple[Choice, ...], _: Translator, page: int = 0) -> SectionList:
    """A list message of up to ten rows; longer menus end with a "More" row to the next page."""
    per_page = MAX_ROWS if len(choices) <= MAX_ROWS else MAX_ROWS - 1
    start = page * per_page
    shown = choices[start : start + per_page]
    rows = [
        SectionRow(
            title=c.label[:MAX_ROW_TITLE],
            callback_data=c.id,
            description=_(TYPE_NUMBER, number=start + i + 1)[:MAX_ROW_DESCRIPTION],
        )
        for i, c in enumerate(shown)
    ]
    if start + per_page < len(choices):
        rows.append(
            SectionRow(title=_(MORE)[:MAX_ROW_TITLE], callback_data=f"{PAGE_PREFIX}{page + 1}")
        )
    label = _(LIST_BUTTON)[:MAX_LIST_BUTTON]
    return SectionList(button_title=label, sections=[Section(title=label, rows=rows)])


def sender(data: dict[str, Any]) -> str | None:
    """Who sent the message in a (parsed) webhook body; a status update has none."""
    try:
        value = data["entry"][0]["changes"][0]["value"]
        return str(value["messages"][0]["from"])
    except (KeyError, IndexError, TypeError):
        return None


def inbound_from(message: Message, lang_hint: str | None) -> Inbound:
    """What a person sent, as the engine's inbound event."""
    if message.type == MessageType.TEXT and message.text is not None:
        return Inbound.typed(message.text, lang_hint)
    if message.type == MessageType.LOCATION and message.location is not None:
        loc = message.location
        return Inbound(Kind.LOCATION, location=(loc.latitude, loc.longitude), lang_hint=lang_hint)
    return Inbound(Kind.UNSUPPORTED, lang_hint=lang_hint)
