"""Where channels meet the engine: sessions in and out of the store, in order, errors caught."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from bot.engine import HOME, MENU, Engine
from bot.store import Store, today
from bot.types import Choice, Effect, Inbound, Reply, Session

log = logging.getLogger("bot.conversation")


class Conversations:
    """Loads a person's session, runs the engine, applies its effects, saves; one at a time each."""

    def __init__(
        self, engine: Engine, store: Store, secret: bytes, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.store = store
        self._secret = secret
        self._clock = clock
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def key(self, channel: str, user_id: str) -> str:
        """An HMAC of channel and user id: the raw id is never stored."""
        mac = hmac.new(self._secret, f"{channel}:{user_id}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def handle(self, channel: str, user_id: str, inbound: Inbound) -> list[Reply]:
        """Answer one inbound event for one person."""
        now = self._clock()
        key = self.key(channel, user_id)
        session = self.store.load_session(key, now) or Session()
        try:
            turn = self.engine.handle(session, inbound, datetime.fromtimestamp(now, UTC))
        except Exception:
            # Never a traceback to a person: log the failure (no words, no ids) and apologise.
            log.exception("engine failed", extra={"channel": channel, "kind": inbound.kind.value})
            return [self._apology(session)]
        effects = {e for r in turn.replies for e in r.effects}
        if effects & {Effect.FORGET, Effect.RESET}:
            self.store.forget(key)
        else:
            turn.session.updated_at = now
            self.store.save_session(key, turn.session)
        lang = turn.session.lang or session.lang or "unknown"
        self.store.record(today(now), channel, lang, turn.events)
        return turn.replies

    async def feed(self, channel: str, user_id: str, inbound: Inbound) -> list[Reply]:
        """Like handle, but two events from the same person never run at once."""
        key = self.key(channel, user_id)
        async with self._locks[key]:
            replies = self.handle(channel, user_id, inbound)
        if not self._locks[key].locked():
            self._locks.pop(key, None)
        return replies

    def _apology(self, session: Session) -> Reply:
        _ = self.engine.content.catalogs.get(session.lang)
        home = Choice(MENU, _(HOME))
        return Reply(_("Sorry, something went wrong on our side. Please try again."), (home,))
