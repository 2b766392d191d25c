"""Updates kept on disk from their arrival until their turn is done, so a crash loses none.

A webhook is answered 200 only once its update is in the store; after a crash, `bot run` runs
the unfinished ones again (a turn already done is recognised by its update id and not repeated).
An update holds what a person typed, so it is kept only as long as its turn needs: without the
names a platform adds, deleted when the turn is done, and the write-ahead log emptied soon after,
so no copy of the words stays in any file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from bot.storage.store import InboxRows, StoreUnavailable

log = logging.getLogger("bot.service.inbox")

TIDY_AFTER = 5.0  # seconds after a turn is done by which the write-ahead log is emptied
# What a platform says about a person that no turn needs: names (blanked, since the libraries
# require some), and on Telegram shared contacts and media, and messages quoted back.
NAMES = frozenset({"first_name", "last_name", "username", "name"})
TELEGRAM_UNNEEDED = frozenset({
    "reply_to_message", "external_reply", "quote", "forward_origin", "contact", "photo",
    "sticker", "voice", "video", "video_note", "audio", "document", "animation", "caption",
    "caption_entities",
})  # fmt: skip
WHATSAPP_UNNEEDED = frozenset({"profile", "referral", "context"})  # pywa reads the rest


def slim(data: Any, unneeded: frozenset[str]) -> Any:
    """The update without names, and without the parts named in `unneeded`, at any depth."""
    if isinstance(data, dict):
        return {
            k: ("" if k in NAMES and isinstance(v, str) else slim(v, unneeded))
            for k, v in data.items()
            if k not in unneeded
        }
    if isinstance(data, list):
        return [slim(item, unneeded) for item in data]
    return data


class Inbox:
    """One channel's updates in hand, in the store."""

    def __init__(
        self,
        store: InboxRows,
        channel: str,
        unneeded: frozenset[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.channel = channel
        self.unneeded = unneeded
        self._clock = clock
        self._tidying: asyncio.TimerHandle | None = None

    def keep(self, update: dict[str, Any]) -> int | None:
        """Store an update before it is acknowledged; its row, or None if the store refused it."""
        return self.keep_many([update])[0]

    def keep_many(self, updates: list[dict[str, Any]]) -> list[int | None]:
        """Store updates (a batch polled at once) in one write; their rows, or None each.

        A refusal is logged and the updates still run: answering a person matters more than
        surviving a crash that might come.
        """
        bodies = [
            json.dumps(slim(u, self.unneeded), ensure_ascii=False, separators=(",", ":")).encode()
            for u in updates
        ]
        try:
            return list(self.store.inbox_add(self.channel, bodies, self._clock()))
        except StoreUnavailable as exc:
            log.error("could not keep an update: %s", exc)
            return [None] * len(updates)

    def done(self, row: int | None) -> None:
        """The turn is done: delete its update, and empty the log within TIDY_AFTER seconds."""
        if row is None:
            return
        try:
            self.store.inbox_done(row)
        except StoreUnavailable as exc:
            log.error("could not delete a finished update: %s", exc)
        if self._tidying is None:
            self._tidying = asyncio.get_running_loop().call_later(TIDY_AFTER, self.tidy)

    def tidy(self) -> None:
        """Empty the write-ahead log now."""
        self._tidying = None
        try:
            self.store.tidy()
        except StoreUnavailable as exc:
            log.warning("could not empty the write-ahead log: %s", exc)

    def unfinished(self) -> list[tuple[int, dict[str, Any]]]:
        """The updates a crash left in hand, oldest first, to run again."""
        try:
            rows = self.store.inbox_unfinished(self.channel, self._clock())
        except StoreUnavailable as exc:
            log.error("could not read unfinished updates: %s", exc)
            return []
        if rows:
            log.warning("running updates left unfinished", extra={"count": len(rows)})
        return [(row, json.loads(body)) for row, body in rows]

    def close(self) -> None:
        """Empty the log now rather than later."""
        if self._tidying is not None:
            self._tidying.cancel()
            self.tidy()
