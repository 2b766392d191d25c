"""The message ids of each chat, kept so quick exit can delete the conversation."""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable

from bot.storage.store import MESSAGE_IDS_TTL, MessageIds, PersonKey, StoreUnavailable

log = logging.getLogger("bot.telegram")

DELETE_WINDOW = MESSAGE_IDS_TTL - 300  # a bot may delete messages for 48 hours; keep a margin
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids
MAX_ERASE = 10_000  # ids one quick exit asks to delete, at most (a hundred calls)


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


class ChatHistory:
    """Each chat's message ids, in memory and in the store, so a restart loses none of them."""

    def __init__(
        self,
        store: MessageIds,
        key: Callable[[int], PersonKey],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sent = SentMessages(clock)
        self._store = store
        self._key = key

    def add(self, chat_id: int, message_id: int) -> None:
        """Remember one message, either way."""
        self.sent.add(chat_id, message_id)

    def save(self) -> None:
        """Write the message ids added since last time, so a restart does not lose them."""
        rows = self.sent.unsaved()
        if not rows:
            return
        try:
            self._store.keep_message_ids([(self._key(chat), mid, at) for chat, mid, at in rows])
        except StoreUnavailable as exc:
            log.warning("could not keep message ids: %s", exc)
            self.sent.requeue(rows)  # tried again next time

    def take_batches(self, chat_id: int) -> list[list[int]]:
        """The ids quick exit should delete, in deleteMessages' batches; forgets them all."""
        known = self.sent.take(chat_id, self._stored(chat_id))
        if not known:
            return []
        # A private chat numbers its messages one after another, both ways: deleting the whole
        # span also catches a reply whose send timed out after Telegram had posted it.
        first = max(min(known), max(known) - MAX_ERASE + 1)
        ids = list(range(first, max(known) + 1))
        return [ids[start : start + DELETE_BATCH] for start in range(0, len(ids), DELETE_BATCH)]

    def forget(self, chat_id: int) -> None:
        """Forget me: keep no message ids in the store (quick exit still works until a restart)."""
        self.sent.drop_unsaved(chat_id)
        self._stored(chat_id)

    def _stored(self, chat_id: int) -> list[tuple[float, int]]:
        """The chat's message ids kept in the store (from before a restart), removed from it."""
        try:
            return self._store.take_message_ids(self._key(chat_id))
        except StoreUnavailable as exc:
            log.warning("could not read message ids: %s", exc)
            return []
