"""Updates coming in: kept on disk before Telegram is told, and run one person at a time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor
from telegram.request import BaseRequest

from bot.channels.telegram.http import AiohttpRequest
from bot.service.inbox import Inbox
from bot.service.locks import KeyedLocks

log = logging.getLogger("bot.telegram")

SENT_KEEPS = ("message_id", "date", "chat")  # what python-telegram-bot needs to make a Message
UNBOUNDED = 1 << 30  # PTB's concurrency limit, set out of reach (see InOrder)


def update_sender(data: dict[str, Any]) -> str | None:
    """The user id an update comes from, read from its JSON, or None."""
    for kind in ("message", "edited_message", "callback_query"):
        part = data.get(kind)
        if isinstance(part, dict) and isinstance(part.get("from"), dict):
            sender = part["from"].get("id")
            return str(sender) if isinstance(sender, int) else None
    return None


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
