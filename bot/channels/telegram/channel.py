"""The Telegram channel: python-telegram-bot's application, its handlers and its sending."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.retry import retrying
from bot.channels.telegram.http import backoff
from bot.channels.telegram.render import MAX_CALLBACK, inbound_from, render
from bot.channels.telegram.sent import ChatHistory
from bot.channels.telegram.staff import PAUSES, StaffPoster, stats_text
from bot.channels.telegram.updates import (
    DurableQueue,
    InOrder,
    PollingRequest,
    Requests,
    update_sender,
)
from bot.content.commands import menu
from bot.content.i18n import LANGS
from bot.core.types import Effect, Inbound, Kind, Reply
from bot.service.conversation import Conversations
from bot.service.inbox import TELEGRAM_UNNEEDED, Inbox
from bot.settings import Settings
from bot.storage.store import PersonKey

log = logging.getLogger("bot.telegram")

CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# Webhook calls Telegram makes at once (it allows 1-100, 40 if unset). Each is answered in about
# a millisecond, so ten carry hundreds of updates a second, far past the 30 replies a second
# Telegram lets a bot send; fewer at once means one person's flood queues at Telegram, not here.
WEBHOOK_CONNECTIONS = 10
# Connections for sending: 16 calls of ~100 ms each carry 160 a second, over five times
# Telegram's 30 messages a second.
POOL_SIZE = 16
# Message ids are saved with each turn; this often, any the store refused are tried again.
SAVE_IDS_EVERY = 10.0

_T = TypeVar("_T")


class TelegramChannel:
    """Runs the assistant on Telegram through python-telegram-bot."""

    def __init__(
        self,
        conversations: Conversations,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        max_rate: float = 30.0,
    ) -> None:
        if settings.telegram_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.conversations = conversations
        self.settings = settings
        self.history = ChatHistory(conversations.store, self._key, clock)
        self._saving: asyncio.Task[None] | None = None
        self._posting: asyncio.Task[None] | None = None
        self.poster: StaffPoster | None = None
        self._retry_pause = 0.5
        self._post_pauses = PAUSES
        self.queue = DurableQueue(Inbox(conversations.store, CHANNEL, TELEGRAM_UNNEEDED, clock))
        # Telegram allows about 30 messages a second in all; the limiter also waits out 429s.
        limiter = AIORateLimiter(overall_max_rate=max_rate or 0, max_retries=3)
        builder: Any = (
            ApplicationBuilder()
            .token(settings.telegram_token.value)
            .base_url(f"{settings.telegram_api_url.rstrip('/')}/bot")
            .base_file_url(f"{settings.telegram_api_url.rstrip('/')}/file/bot")
            .rate_limiter(limiter)
            .update_queue(self.queue)
            .concurrent_updates(InOrder(finished=self.queue.finished))
            .request(Requests(connection_pool_size=POOL_SIZE))
            .get_updates_request(PollingRequest(self.queue, connection_pool_size=1))
        )
        if settings.telegram_webhook_url:
            builder = builder.updater(None)  # updates arrive through the project's web server
        self.app: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        private = filters.ChatType.PRIVATE
        if settings.staff_chat_id is not None:
            staff = filters.Chat(settings.staff_chat_id)
            self.app.add_handler(CommandHandler("stats", self._on_staff_stats, filters=staff))
            poster = StaffPoster(self._post, conversations.store, settings.staff_chat_id)
            conversations.report_listeners.append(lambda _report: poster.wake.set())
            self.poster = poster
        self.app.add_handler(CallbackQueryHandler(self._on_press))
        self.app.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE, self._on_message))
        self.app.add_handler(
            MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, self._on_edited)
        )
        self.app.add_error_handler(self._on_error)

    # Life cycle.
    async def start(self) -> None:
        """Connect, publish the command menus, and start polling or set the webhook."""
        await self.app.initialize()
        await self.publish_commands()
        await self.app.start()
        self.queue.resume(self.app.bot)
        if self.poster is not None:
            self.poster.pauses = self._post_pauses
            self._posting = asyncio.create_task(self.poster.run())
        url = self.settings.telegram_webhook_url
        if url:
            await self.app.bot.set_webhook(
                url,
                secret_token=self.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=WEBHOOK_CONNECTIONS,
            )
        else:
            assert self.app.updater is not None
            await self.app.bot.delete_webhook()
            await self.app.updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, timeout=30, poll_interval=0.0
            )
        self._saving = asyncio.create_task(self._save_ids_often())
        log.info("telegram started", extra={"mode": "webhook" if url else "polling"})

    async def stop(self) -> None:
        """Stop taking updates, finish the ones in hand, keep the message ids, disconnect."""
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        for task in (self._saving, self._posting):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.save_ids()
        self.queue.inbox.close()
        await self.app.shutdown()

    def _key(self, chat_id: int) -> PersonKey:
        """The person's key: in a private chat, the chat id is the user id."""
        return self.conversations.key(CHANNEL, str(chat_id))

    def save_ids(self) -> None:
        """Write the message ids added since last time, so a restart does not lose them."""
        self.history.save()

    async def _save_ids_often(self) -> None:
        while True:
            await asyncio.sleep(SAVE_IDS_EVERY)
            self.save_ids()

    @property
    def webhook_secret(self) -> str:
        """The secret Telegram sends back with every webhook call."""
        secret = self.settings.telegram_webhook_secret
        if secret is not None:
            return secret.value
        # Derived from the data directory's secret, so it survives restarts without a setting.
        return self.conversations.key(CHANNEL, "webhook-secret")

    async def accept(self, data: object) -> None:
        """Keep one update that arrived on the webhook, and queue it (unless it will be ignored)."""
        data = data if isinstance(data, dict) else {}
        sender = update_sender(data)
        if sender is not None and not self.conversations.admit(CHANNEL, sender):
            return  # flooding, past the limit and the one told to slow down: not worth a turn
        await self.queue.put_data(data, self.app.bot)

    async def publish_commands(self) -> None:
        """Telegram's command menu in each language (English for the rest), all at once."""
        content = self.conversations.content

        async def publish(lang: str | None) -> None:
            _ = content.catalogs.get(lang or "en")
            commands = [BotCommand(c.name, _(c.description)) for c in menu(content.commands)]
            await self._retry(lambda: self.app.bot.set_my_commands(commands, language_code=lang))

        await asyncio.gather(*(publish(lang) for lang in (None, *LANGS)))

    # Handlers.
    async def _on_message(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        self.history.add(message.chat_id, message.message_id)
        inbound = inbound_from(message, user.language_code)
        await self._converse(message.chat_id, user.id, inbound, update.update_id)

    async def _on_edited(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        inbound = Inbound(Kind.EDITED, lang_hint=user.language_code)
        await self._converse(message.chat_id, user.id, inbound, update.update_id)

    async def _on_press(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.message is None:
            return
        chat = query.message.chat
        if chat.type != chat.PRIVATE:
            await query.answer()
            return
        # Stop the button's spinner at once; the answer follows as a message.
        await self._quietly(query.answer())
        data = (query.data or "")[:MAX_CALLBACK]
        inbound = Inbound.choice(data, query.from_user.language_code)
        await self._converse(chat.id, query.from_user.id, inbound, update.update_id)

    async def _on_staff_stats(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        text = stats_text(self.conversations.store.stats())
        await self._retry(lambda: self.app.bot.send_message(chat.id, text))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # No update contents in the log: they hold people's words and ids.
        log.error("telegram handler failed: %s", type(context.error).__name__)

    async def _converse(self, chat_id: int, user_id: int, inbound: Inbound, update_id: int) -> None:
        replies = await self.conversations.feed(
            CHANNEL, str(user_id), inbound, update_id=str(update_id)
        )
        await self.deliver(chat_id, replies)
        # With the turn, not later: after a crash, quick exit still knows every message.
        self.save_ids()

    # Sending.
    async def deliver(self, chat_id: int, replies: list[Reply]) -> None:
        """Send each reply in order, erasing the conversation first where asked."""
        catalogs = self.conversations.content.catalogs
        for reply in replies:
            if Effect.ERASE_CHAT in reply.effects:
                await self.erase(chat_id)
            for message in render(reply, catalogs.get(reply.lang)):
                await self._send(chat_id, message.html, message.markup)
        if any(Effect.FORGET in reply.effects for reply in replies):
            # After the answer is sent, so not even its id is kept.
            self.history.forget(chat_id)

    async def _send(self, chat_id: int, text: str, markup: Any) -> None:
        try:
            sent = await self._retry(
                lambda: self.app.bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
            )
        except Forbidden:
            log.info("telegram chat blocked the bot")  # they left; nothing more to send
            return
        self.history.add(chat_id, sent.message_id)

    async def erase(self, chat_id: int) -> None:
        """Delete every message of the chat the bot still can, both ways, in batches."""
        for batch in self.history.take_batches(chat_id):
            try:
                await self._retry(functools.partial(self.app.bot.delete_messages, chat_id, batch))
            except TelegramError as exc:
                log.warning("could not delete some messages: %s", type(exc).__name__)

    async def _post(self, chat_id: int, text: str) -> object:
        """One staff post, in HTML, tried again after a rate limit or a server error."""
        return await self._retry(
            lambda: self.app.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
        )

    async def _retry(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """Try again after a 429, a server error or a timeout."""
        return await retrying(call, self._backoff)

    def _backoff(self, exc: Exception, attempt: int) -> float | None:
        return backoff(exc, attempt, self._retry_pause)

    @staticmethod
    async def _quietly(call: Awaitable[Any]) -> None:
        with contextlib.suppress(TelegramError):  # an expired button answer is harmless
            await call
