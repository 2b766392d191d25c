"""The WhatsApp channel (Cloud API, through pywa): webhook updates in, buttons and lists out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
from pywa_async import WhatsApp
from pywa_async.errors import ThrottlingError, WhatsAppError
from pywa_async.handlers import CallbackButtonHandler, CallbackSelectionHandler, MessageHandler
from pywa_async.types import (
    CallbackButton,
    CallbackSelection,
    Message,
)

from bot.channels.retry import retrying
from bot.channels.whatsapp.render import (
    PAGE_PREFIX,
    PAGES_KEPT,
    Outgoing,
    inbound_from,
    render,
    sender,
)
from bot.core.types import Effect, Inbound, Reply
from bot.service.conversation import Conversations
from bot.service.inbox import WHATSAPP_UNNEEDED, Inbox
from bot.service.locks import KeyedLocks
from bot.settings import Settings

log = logging.getLogger("bot.whatsapp")

CHANNEL = "whatsapp"
API_VERSION = "23.0"


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

    async def start(self) -> None:
        """Get ready off the event loop, then run what a crash left unfinished."""
        await asyncio.to_thread(self.conversations.prepare_languages)
        self.resume()

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
        hint = self.conversations.guess_language(message.text) if message.text else None
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
        _ = self.conversations.content.catalogs.get(reply.lang)
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
            _ = self.conversations.content.catalogs.get(reply.lang)
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
