"""The Telegram channel: updates in, HTML messages with inline keyboards out."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import logging
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.channels.retry import retrying
from bot.channels.telegram.http import AiohttpRequest
from bot.content.i18n import LANGS, N_, right_to_left
from bot.core.reports import Report, staff_text
from bot.core.types import Choice, Effect, Inbound, Kind, Reply
from bot.service.conversation import Conversations
from bot.service.inbox import TELEGRAM_UNNEEDED, Inbox
from bot.service.locks import KeyedLocks
from bot.settings import Settings
from bot.storage.store import MESSAGE_IDS_TTL, STORE_ERRORS
from bot.understanding.text import split_text

log = logging.getLogger("bot.telegram")

CHANNEL = "telegram"
MAX_TEXT = 4096  # Telegram's limit for one message, counted after markup is parsed
MAX_CALLBACK = 64  # bytes of callback data Telegram keeps on a button
DELETE_WINDOW = MESSAGE_IDS_TTL - 300  # a bot may delete messages for 48 hours; keep a margin
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids
MAX_ERASE = 10_000  # ids one quick exit asks to delete, at most (a hundred calls)
PAIR_LABEL = 14  # two buttons share a row when both labels are this short
SENT_KEEPS = ("message_id", "date", "chat")  # what python-telegram-bot needs to make a Message
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# Webhook calls Telegram makes at once (it allows 1-100, 40 if unset). Each is answered in about
# a millisecond, so ten carry hundreds of updates a second, far past the 30 replies a second
# Telegram lets a bot send; fewer at once means one person's flood queues at Telegram, not here.
WEBHOOK_CONNECTIONS = 10
# Connections for sending: 16 calls of ~100 ms each carry 160 a second, over five times
# Telegram's 30 messages a second.
POOL_SIZE = 16
# Seconds between writes of new message ids to the store, so quick exit still deletes what came
# before a restart; a graceful stop writes them all.
UNBOUNDED = 1 << 30  # PTB's concurrency limit, set out of reach (see InOrder)
SAVE_IDS_EVERY = 10.0  # ids are saved with each turn; this retries any the store refused
# Staff posts: looked for this often when all is well, and retried after a failure with pauses
# growing from the first figure to the second (Telegram down, or the staff chat misconfigured).
POST_IDLE, POST_RETRY, POST_RETRY_MAX = 60.0, 5.0, 600.0

# The commands Telegram lists in its menu, with descriptions in every language.
COMMANDS = (
    ("start", N_("Main menu")),
    ("help", N_("How this assistant works")),
    ("language", N_("Change language")),
    ("exit", N_("Quick exit: clear this chat")),
    ("forget", N_("Forget me: erase what is kept")),
    ("privacy", N_("Privacy: what is kept and why")),
)
SHARE_LOCATION = N_("📍 Share my location")
SHARE_LOCATION_HINT = N_("Or press the button below to share where you are.")

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_T = TypeVar("_T")


def to_html(text: str) -> str:
    """Reply text as Telegram HTML: everything escaped, then `**bold**` as <b>."""
    return _BOLD.sub(r"<b>\1</b>", html.escape(text, quote=False))


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


def update_sender(data: dict[str, Any]) -> str | None:
    """The user id an update comes from, read from its JSON, or None."""
    for kind in ("message", "edited_message", "callback_query"):
        part = data.get(kind)
        if isinstance(part, dict) and isinstance(part.get("from"), dict):
            sender = part["from"].get("id")
            return str(sender) if isinstance(sender, int) else None
    return None


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


class SentMessages:
    """The ids of each chat's recent messages, both ways, so quick exit can delete them."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._ids: defaultdict[int, deque[tuple[float, int]]] = defaultdict(deque)
        self._unsaved: list[tuple[int, int, float]] = []  # chat, message id, when

    def add(self, chat_id: int, message_id: int, at: float | None = None) -> None:
        """Remember one message; ids past Telegram's deletion window are dropped."""
        at = self._clock() if at is None else at
        self._ids[chat_id].append((at, message_id))
        self._unsaved.append((chat_id, message_id, at))
        self._expire(chat_id)

    def take(self, chat_id: int, stored: Iterable[tuple[float, int]] = ()) -> list[int]:
        """Every id still deletable in a chat, with any stored before a restart; forgets them."""
        oldest = self._clock() - DELETE_WINDOW
        ids = [*self._ids.pop(chat_id, deque()), *stored]
        self.drop_unsaved(chat_id)
        return sorted({mid for at, mid in ids if at >= oldest})

    def unsaved(self) -> list[tuple[int, int, float]]:
        """The (chat, id, when) added since the last call: what to write to the store next."""
        rows, self._unsaved = self._unsaved, []
        return rows

    def requeue(self, rows: list[tuple[int, int, float]]) -> None:
        """Put back rows the store could not take, to be written next time."""
        self._unsaved[:0] = rows

    def drop_unsaved(self, chat_id: int) -> None:
        """Write nothing more about this chat: it was erased, or the person said forget me."""
        self._unsaved = [row for row in self._unsaved if row[0] != chat_id]

    def _expire(self, chat_id: int) -> None:
        ids = self._ids[chat_id]
        oldest = self._clock() - DELETE_WINDOW
        while ids and ids[0][0] < oldest:  # added in time order: the oldest are first
            ids.popleft()


class Requests(AiohttpRequest):
    """The HTTP client for everything but getUpdates, reading only what the bot uses."""

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """Telegram's answer; of a message sent, only what says which message it was."""
        data = BaseRequest.parse_json_payload(payload)
        result = data.get("result")
        if isinstance(result, dict) and "message_id" in result:
            # The bot needs only a sent message's id; rebuilding the text, its formatting and the
            # buttons Telegram echoes back costs more than sending them did.
            data["result"] = {key: result[key] for key in SENT_KEEPS if key in result}
        return data


class PollingRequest(AiohttpRequest):
    """getUpdates' HTTP client: each batch is kept in the inbox as it is read, in one write.

    So every polled update is on disk before the next getUpdates tells Telegram it arrived.
    """

    def __init__(self, queue: DurableQueue, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._queue = queue

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        """Telegram's answer; a list of updates is kept before it is returned."""
        data = BaseRequest.parse_json_payload(payload)
        result = data.get("result")
        if isinstance(result, list) and result:
            self._queue.keep_polled([u for u in result if isinstance(u, dict)])
        return data


class InOrder(BaseUpdateProcessor):
    """Updates run concurrently, but one person's updates run one at a time, in arrival order.

    The person's turn is taken first and a shared slot second, so a backlog from one person
    waits without holding any of the slots everyone else's updates need. (PTB's own limit is
    taken before `do_process_update`, so it is set out of reach and ours applies instead.)
    """

    def __init__(
        self,
        max_concurrent_updates: int = 256,
        finished: Callable[[object], None] = lambda _update: None,
    ) -> None:
        super().__init__(UNBOUNDED)
        self._locks = KeyedLocks()
        self._slots = asyncio.BoundedSemaphore(max_concurrent_updates)
        self._finished = finished

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the person's earlier updates, then for a slot, then process this one."""
        chat = update.effective_chat if isinstance(update, Update) else None
        try:
            if chat is None:
                async with self._slots:
                    await coroutine
                return
            async with self._locks.hold(chat.id), self._slots:
                await coroutine
        finally:
            self._finished(update)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


class DurableQueue(asyncio.Queue[object]):
    """PTB's update queue, with each update kept in the inbox until its turn is done.

    Polling and the webhook both put updates here, so in both an update is on disk before
    Telegram is told it arrived (by the next getUpdates, or by the webhook's 200).
    """

    def __init__(self, inbox: Inbox) -> None:
        super().__init__()
        self.inbox = inbox
        self._rows: dict[int, int | None] = {}  # id() of an update in hand: its inbox row
        self._polled: dict[int, int | None] = {}  # update_id of a polled update: its row

    def keep_polled(self, updates: list[dict[str, Any]]) -> None:
        """Keep a batch from getUpdates as it is read, in one write, before PTB sees it."""
        rows = self.inbox.keep_many(updates)
        for data, row in zip(updates, rows, strict=True):
            if isinstance(data.get("update_id"), int):
                self._polled[data["update_id"]] = row

    async def put(self, item: object) -> None:
        """Queue an update from the updater, kept already (or now, if it was not)."""
        if isinstance(item, Update) and id(item) not in self._rows:
            if item.update_id in self._polled:
                self._rows[id(item)] = self._polled.pop(item.update_id)
            else:
                self._rows[id(item)] = self.inbox.keep(item.to_dict())
        await super().put(item)

    async def put_data(self, data: dict[str, Any], bot: Any) -> None:
        """Keep an update as it came on the webhook, then queue it."""
        row = self.inbox.keep(data)
        update = Update.de_json(data, bot)
        self._rows[id(update)] = row
        await super().put(update)

    def resume(self, bot: Any) -> None:
        """Queue the updates a crash left unfinished, before any new one."""
        for row, data in self.inbox.unfinished():
            try:
                update = Update.de_json(data, bot)
            except Exception as exc:  # one bad row must not stop the others
                log.error("dropped an unreadable unfinished update: %s", type(exc).__name__)
                self.inbox.done(row)
                continue
            self._rows[id(update)] = row
            self.put_nowait(update)

    def finished(self, update: object) -> None:
        """The update's turn is done (or failed): it need not survive a crash any more."""
        self.inbox.done(self._rows.pop(id(update), None))


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
        self.sent = SentMessages(clock)
        self._saving: asyncio.Task[None] | None = None
        self._posting: asyncio.Task[None] | None = None
        self._wake_poster = asyncio.Event()
        self._retry_pause = 0.5
        self._post_pauses = (POST_IDLE, POST_RETRY, POST_RETRY_MAX)
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
            conversations.report_listeners.append(lambda _report: self._wake_poster.set())
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
        if self.settings.staff_chat_id is not None:
            self._posting = asyncio.create_task(self._post_reports())
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

    def _key(self, chat_id: int) -> str:
        """The person's key: in a private chat, the chat id is the user id."""
        return self.conversations.key(CHANNEL, str(chat_id))

    def save_ids(self) -> None:
        """Write the message ids added since last time, so a restart does not lose them."""
        rows = self.sent.unsaved()
        if not rows:
            return
        try:
            store = self.conversations.store
            store.keep_message_ids([(self._key(chat), mid, at) for chat, mid, at in rows])
        except STORE_ERRORS as exc:
            log.warning("could not keep message ids: %s", type(exc).__name__)
            self.sent.requeue(rows)  # tried again next time

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
        """Telegram's command menu, in each language (English for everyone else)."""
        catalogs = self.conversations.engine.content.catalogs
        for lang in (None, *LANGS):
            _ = catalogs.get(lang or "en")
            commands = [BotCommand(name, _(desc)) for name, desc in COMMANDS]
            await self._retry(
                functools.partial(self.app.bot.set_my_commands, commands, language_code=lang)
            )

    # Handlers.
    async def _on_message(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        self.sent.add(message.chat_id, message.message_id)
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
        stats = self.conversations.store.stats()
        lines = [f"{group}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                 for group, counts in stats.items() if counts]  # fmt: skip
        text = "\n".join(lines) or "No activity recorded yet."
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
        for reply in replies:
            if Effect.ERASE_CHAT in reply.effects:
                await self.erase(chat_id)
            parts = split_text(reply.text)
            for i, part in enumerate(parts):
                markup = keyboard(reply.choices) if i == len(parts) - 1 else None
                await self._send(chat_id, to_html(part), markup)
            if reply.request_location:
                _ = self.conversations.engine.content.catalogs.get(reply.lang)
                button = KeyboardButton(_(SHARE_LOCATION), request_location=True)
                markup_loc = ReplyKeyboardMarkup(
                    [[button]], resize_keyboard=True, one_time_keyboard=True
                )
                hint = _(SHARE_LOCATION_HINT)
                hint = right_to_left(hint) if reply.rtl else hint
                await self._send(chat_id, html.escape(hint), markup_loc)
        if any(Effect.FORGET in reply.effects for reply in replies):
            # After the answer is sent, so not even its id is kept.
            self._forget_ids(chat_id)

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
        self.sent.add(chat_id, sent.message_id)

    def _stored_ids(self, chat_id: int) -> list[tuple[float, int]]:
        """The chat's message ids kept in the store (from before a restart), removed from it."""
        try:
            return self.conversations.store.take_message_ids(self._key(chat_id))
        except STORE_ERRORS as exc:
            log.warning("could not read message ids: %s", type(exc).__name__)
            return []

    def _forget_ids(self, chat_id: int) -> None:
        """Forget me: keep no message ids in the store (quick exit still works until a restart)."""
        self.sent.drop_unsaved(chat_id)
        self._stored_ids(chat_id)

    async def erase(self, chat_id: int) -> None:
        """Delete every message of the chat the bot still can, both ways, in batches."""
        known = self.sent.take(chat_id, self._stored_ids(chat_id))
        if not known:
            return
        # A private chat numbers its messages one after another, both ways: deleting the whole
        # span also catches a reply whose send timed out after Telegram had posted it.
        first = max(min(known), max(known) - MAX_ERASE + 1)
        ids = list(range(first, max(known) + 1))
        for start in range(0, len(ids), DELETE_BATCH):
            batch = ids[start : start + DELETE_BATCH]
            try:
                await self._retry(functools.partial(self.app.bot.delete_messages, chat_id, batch))
            except TelegramError as exc:
                log.warning("could not delete some messages: %s", type(exc).__name__)

    async def _post_reports(self) -> None:
        """Post each new report to the staff chat, retrying until Telegram has taken it all.

        What is still to post lives in the store, so a restart does not lose it either.
        """
        idle, first, longest = self._post_pauses
        pause = first
        while True:
            self._wake_poster.clear()
            try:
                waiting = self.conversations.store.unposted()
            except STORE_ERRORS as exc:
                log.error("could not read the reports to post: %s", type(exc).__name__)
                waiting = None
            failed = waiting is None
            for report, posted in waiting or ():
                if not await self.post_report(report, posted):
                    failed = True
            wait = pause if failed else idle
            pause = min(pause * 2, longest) if failed else first
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_poster.wait(), wait)

    async def post_report(self, report: Report, posted: int = 0) -> bool:
        """Post a report to the staff chat, from part `posted` on; whether it all went."""
        chat_id = self.settings.staff_chat_id
        if chat_id is None:
            return True
        parts = staff_parts(staff_text(report))
        store = self.conversations.store
        for i in range(posted, len(parts)):
            send = functools.partial(
                self.app.bot.send_message, chat_id, parts[i], parse_mode=ParseMode.HTML
            )
            try:
                await self._retry(send)
            except TelegramError as exc:
                log.error(
                    "could not post a report to the staff chat (part %d of %d): %s; will retry",
                    i + 1, len(parts), type(exc).__name__,
                )  # fmt: skip
                return False
            try:
                store.post_progress(report.reference, i + 1, done=i + 1 == len(parts))
            except STORE_ERRORS as exc:
                # Posted but not noted: it may be posted again, which beats not at all.
                log.error("could not note a staff post: %s", type(exc).__name__)
                return False
        return True

    async def _retry(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """Try again after a 429, a server error or a timeout."""
        return await retrying(call, self._backoff)

    def _backoff(self, exc: Exception, attempt: int) -> float | None:
        if isinstance(exc, RetryAfter):
            delay = exc.retry_after
            return float(delay.total_seconds() if isinstance(delay, timedelta) else delay)
        if isinstance(exc, BadRequest | Forbidden):
            return None  # our mistake or their choice: trying again will not help
        if isinstance(exc, NetworkError):  # a 5xx, a timeout or a dropped connection
            return self._retry_pause * (1 << attempt)
        return None

    @staticmethod
    async def _quietly(call: Awaitable[Any]) -> None:
        with contextlib.suppress(TelegramError):  # an expired button answer is harmless
            await call
