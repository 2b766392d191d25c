"""The WhatsApp channel (Cloud API, through pywa): webhook updates in, buttons and lists out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
from pywa_async import WhatsApp
from pywa_async.errors import ThrottlingError, WhatsAppError
from pywa_async.handlers import CallbackButtonHandler, CallbackSelectionHandler, MessageHandler
from pywa_async.types import (
    Button,
    CallbackButton,
    CallbackSelection,
    Message,
    MessageType,
    Section,
    SectionList,
    SectionRow,
)

from bot.channels.retry import retrying
from bot.content.i18n import N_, Translator, right_to_left
from bot.core.types import Choice, Effect, Inbound, Kind, Reply
from bot.service.conversation import Conversations
from bot.service.inbox import WHATSAPP_UNNEEDED, Inbox
from bot.service.locks import KeyedLocks
from bot.settings import Settings
from bot.understanding.text import split_text

log = logging.getLogger("bot.whatsapp")

CHANNEL = "whatsapp"
API_VERSION = "23.0"
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

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)


@dataclass(frozen=True)
class Outgoing:
    """One WhatsApp message: text, and reply buttons or a list, or neither."""

    text: str
    buttons: list[Button] | SectionList | None = None


def to_whatsapp(text: str) -> str:
    """WhatsApp marks bold with single asterisks."""
    return _BOLD.sub(r"*\1*", text)


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


class WhatsAppChannel:
    """Runs the assistant on WhatsApp: answers each webhook update in the person's language."""

    def __init__(
        self,
        conversations: Conversations,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        token, secret = settings.whatsapp_token, settings.whatsapp_app_secret
        verify = settings.whatsapp_verify_token
        if token is None or not settings.whatsapp_phone_number_id:
            raise ValueError("WHATSAPP_TOKEN and WHATSAPP_PHONE_NUMBER_ID must be set")
        if secret is None:
            # Without it, anyone could post messages that look like they came from Meta.
            raise ValueError("WHATSAPP_APP_SECRET must be set: it proves updates come from Meta")
        if verify is None:
            raise ValueError("WHATSAPP_VERIFY_TOKEN must be set: Meta sends it to verify the URL")
        self.conversations = conversations
        self._clock = clock
        self._retry_pause = 1.0
        self._pages: dict[str, tuple[float, Reply]] = {}
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(15.0))
        self._tasks: set[asyncio.Future[None]] = set()
        self._locks = KeyedLocks()  # per sender: a turn and its replies before the next turn
        self.inbox = Inbox(conversations.store, CHANNEL, WHATSAPP_UNNEEDED, clock)
        self.wa = WhatsApp(
            phone_id=settings.whatsapp_phone_number_id,
            token=token.value,
            session=self.http,
            server=None,  # updates come through the project's own web server
            verify_token=verify.value,
            app_secret=secret.value,
            api_version=API_VERSION,
        )
        # pywa builds the Graph API address itself; a provider's endpoint replaces it.
        self.http.base_url = f"{settings.whatsapp_api_url.rstrip('/')}/v{API_VERSION}"
        self.wa.add_handlers(
            MessageHandler(self._on_message),
            CallbackButtonHandler(self._on_button),
            CallbackSelectionHandler(self._on_selection),
        )

    async def idle(self) -> None:
        """Wait until every update in hand has been answered."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Finish the updates in hand, then close the connection pool."""
        await self.idle()
        self.inbox.close()
        await self.http.aclose()

    def resume(self) -> None:
        """Run the updates a crash left unfinished, before any new one arrives."""
        for row, data in self.inbox.unfinished():
            self._spawn(self._handle(json.dumps(data).encode(), sender(data), row))

    # Webhook entry points.
    async def verify(
        self, mode: str | None, token: str | None, challenge: str | None
    ) -> tuple[str, int]:
        """Meta's verification call: echo the challenge only for the right verify token."""
        if mode != "subscribe":
            return "Forbidden", 403
        answer, status = await self.wa.webhook_challenge_handler(vt=token, ch=challenge)
        return str(answer or ""), int(status)

    async def receive(self, body: bytes, signature: str | None) -> tuple[str, int]:
        """One webhook POST: refused unless signed with the app secret, then handled."""
        refused = await self.wa.webhook_update_validator(body, signature)
        if refused is not None:
            return str(refused[0]), int(refused[1])
        try:
            data = json.loads(body)
        except ValueError:
            return "Bad Request", 400
        if not isinstance(data, dict):
            return "Bad Request", 400
        user = sender(data)  # parsed once here; pywa parses the body for itself
        if user is not None and not self.conversations.admit(CHANNEL, user):
            return "ok", 200  # flooding, past the limit and the one told to slow down
        # Kept before Meta hears it arrived, so a crash cannot lose it. Meta wants a quick 200
        # and resends a webhook that is slow to answer: the replies follow in the background.
        # Tasks start in arrival order and take the sender's lock before anything else, so one
        # person's turns and their replies keep that order.
        row = self.inbox.keep(data)
        self._spawn(self._handle(body, user, row))
        return "ok", 200

    async def _handle(self, body: bytes, user: str | None, row: int | None = None) -> None:
        async with self._locks.hold(user) if user else contextlib.nullcontext():
            try:
                await self.wa.webhook_update_handler(body)
            except Exception as exc:
                log.error("whatsapp update failed: %s", type(exc).__name__)  # no words or numbers
            finally:
                self.inbox.done(row)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run in the background, kept until done so close() can wait for it."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Handlers.
    async def _on_message(self, _client: WhatsApp, message: Message) -> None:
        self._spawn(self._quietly(message.mark_as_read()))  # not waited for: order comes first
        user = message.from_user.wa_id or message.from_user.preferred_id
        hint = self.conversations.engine.languages.guess(message.text) if message.text else None
        await self._converse(user, inbound_from(message, hint), message.id)

    async def _on_button(self, _client: WhatsApp, button: CallbackButton) -> None:
        self._spawn(self._quietly(button.mark_as_read()))  # not waited for: order comes first
        user = button.from_user.wa_id or button.from_user.preferred_id
        await self._pressed(user, str(button.data), button.id)

    async def _on_selection(self, _client: WhatsApp, selection: CallbackSelection) -> None:
        self._spawn(self._quietly(selection.mark_as_read()))  # not waited for: order comes first
        user = selection.from_user.wa_id or selection.from_user.preferred_id
        await self._pressed(user, str(selection.data), selection.id)

    async def _pressed(self, user: str, data: str, message_id: str) -> None:
        if data.startswith(PAGE_PREFIX):
            await self._next_page(user, data.removeprefix(PAGE_PREFIX))
            return
        await self._converse(user, Inbound.choice(data[:200]), message_id)

    async def _next_page(self, user: str, page: str) -> None:
        kept = self._pages.get(user)
        if kept is None or not page.isdecimal() or self._clock() - kept[0] > PAGES_KEPT:
            await self._converse(user, Inbound.choice("page:expired"), None)
            return
        reply = kept[1]
        _ = self.conversations.engine.content.catalogs.get(reply.lang)
        for out in render(reply, _, int(page)):
            await self._send(user, out)

    async def _converse(self, user: str, inbound: Inbound, message_id: str | None) -> None:
        replies = await self.conversations.feed(CHANNEL, user, inbound, update_id=message_id)
        await self.deliver(user, replies)

    # Sending.
    async def deliver(self, user: str, replies: list[Reply]) -> None:
        """Send each reply in order; remember the last list so "More" can page through it."""
        for reply in replies:
            if Effect.FORGET in reply.effects or Effect.RESET in reply.effects:
                self._pages.pop(user, None)
            if reply.choices:
                self._pages[user] = (self._clock(), reply)
            _ = self.conversations.engine.content.catalogs.get(reply.lang)
            for out in render(reply, _):
                await self._send(user, out)

    async def _send(self, user: str, out: Outgoing) -> None:
        try:
            await self._retry(
                lambda: self.wa.send_message(to=user, text=out.text, buttons=out.buttons)
            )
        except (WhatsAppError, httpx.HTTPError) as exc:
            log.error("whatsapp send failed: %s", type(exc).__name__)

    async def _retry(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """Wait out rate limits and server errors, a few times, with growing pauses."""
        return await retrying(call, self._backoff)

    def _backoff(self, exc: Exception, attempt: int) -> float | None:
        passing = isinstance(exc, ThrottlingError | httpx.TransportError) or (
            isinstance(exc, WhatsAppError) and (exc.status_code or 0) >= 500
        )
        return self._retry_pause * (1 << attempt) if passing else None

    @staticmethod
    async def _quietly(call: Awaitable[Any]) -> None:
        # A read receipt that fails is not worth troubling anyone about.
        with contextlib.suppress(WhatsAppError, httpx.HTTPError):
            await call
