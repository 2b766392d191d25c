"""Where channels meet the engine: sessions in and out of the store, in order, errors caught."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.content.i18n import N_
from bot.content.loader import Content
from bot.core.engine import Engine
from bot.core.reports import Report
from bot.core.screens import HOME, MENU
from bot.core.types import Choice, Effect, Inbound, Kind, Reply, Session
from bot.service.limits import Limits, Window
from bot.service.locks import KeyedLocks
from bot.service.worker import EngineProcess, WorkerError
from bot.storage.store import SESSION_TTL, PersonKey, Store, StoreUnavailable, today

log = logging.getLogger("bot.service.conversation")

ReportListener = Callable[[Report], Any]

# One person's messages a minute, and within ten seconds, at most: far more than anyone types
# or taps, so a flood from one account cannot hold the capacity everyone shares. Past either
# they are told once, then ignored. The burst limit keeps a flood's cost to a few turns.
RATE_WINDOW = 60.0
RATE_MAX = 30
BURST_WINDOW = 10.0
BURST_MAX = 20
SLOW_DOWN = N_(
    "You are sending messages very fast, so I have paused for a moment. Please wait a "
    "minute, then send your message again. In danger now? Call 999."
)
# One person's reports, at most, in REPORTS_WINDOW seconds: enough for anyone, too few to flood.
REPORTS_WINDOW = 900.0
REPORTS_MAX = 3
TOO_MANY_REPORTS = N_(
    "You have sent several reports in a short time, so I have not sent this one yet. Your "
    "answers are kept for now: press Send again in 15 minutes. To report a crime now, call "
    "101. In danger now? Call 999."
)
NOT_SAVED = N_(
    "Sorry, your report was not saved: our system has a problem right now. Nothing "
    "was sent. Press Send again in a few minutes. To report a crime now, call 101."
)
UNSAVED_KEPT = 10_000  # sessions the store refused, kept in memory until it takes them


def turn_limits(extra: int = 0) -> Limits:
    """How many turns one person may have: RATE_MAX a minute and BURST_MAX in a burst."""
    return Limits(Window(RATE_MAX + extra, RATE_WINDOW), Window(BURST_MAX + extra, BURST_WINDOW))


class Conversations:
    """Loads a person's session, runs the engine, stores the outcome atomically; one at a time."""

    def __init__(
        self,
        engine: Engine,
        store: Store,
        secret: bytes,
        clock: Callable[[], float] = time.time,
        remote: EngineProcess | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self._secret = secret
        self._clock = clock
        # When set, feed() runs each turn in the engine process instead of on the event loop.
        self.remote = remote
        self._locks = KeyedLocks()
        # Report answers being typed live only here, in memory, until the person presses Send.
        self._drafts: dict[str, tuple[float, dict[str, Any]]] = {}
        # Where people were when the store refused to keep it (a full disk, a lock), so their
        # next message carries on there (an answer to the form is not taken for a question).
        self._unsaved: OrderedDict[str, Session] = OrderedDict()
        self._filed = Window(REPORTS_MAX, REPORTS_WINDOW)  # when each person sent reports
        self.report_listeners: list[ReportListener] = []
        self._tasks: set[asyncio.Future[Any]] = set()
        self._turns = turn_limits()  # when each person's last turns ran
        # When their updates reached a webhook: one more than the turns, the one told to slow
        # down. The rest of a flood is turned away at the door, before it costs a write.
        self._arrivals = turn_limits(extra=1)
        self._told = Window(1, RATE_WINDOW)  # people asked to slow down in the last minute

    @property
    def content(self) -> Content:
        """The words in every language and the commands, for what a channel says itself."""
        return self.engine.content

    def guess_language(self, text: str) -> str | None:
        """The language a first message is clearly written in, or None to ask."""
        return self.engine.languages.guess(text)

    def prepare_languages(self) -> None:
        """Build the language guesser now (about a second), so no first message waits."""
        _ = self.engine.languages

    def key(self, channel: str, user_id: str) -> PersonKey:
        """An HMAC of channel and user id: the raw id is never stored."""
        mac = hmac.new(self._secret, f"{channel}:{user_id}".encode(), hashlib.sha256)
        return PersonKey(mac.hexdigest()[:32])

    def handle(
        self, channel: str, user_id: str, inbound: Inbound, update_id: str | None = None
    ) -> list[Reply]:
        """Answer one inbound event; a redelivered `update_id` is answered without acting twice."""
        now = self._clock()
        key = self.key(channel, user_id)
        update = self.key(channel, f"update:{update_id}") if update_id is not None else None
        unsaved = self._unsaved.get(key)
        if unsaved is not None and now - unsaved.updated_at > SESSION_TTL:
            del self._unsaved[key]  # too old to carry on from
            unsaved = None
        try:
            session = self.store.load_session(key, now) or Session()
            if update is not None:
                done, reference = self.store.processed(update)
                if done:
                    return [self.engine.confirmation(session.lang, reference)] if reference else []
        except StoreUnavailable as exc:
            # Answer anyway: a warning of danger must not wait for a disk.
            log.error("database unavailable: %s", exc, extra=self._who(channel, key))
            session = Session()
        if unsaved is not None and unsaved.updated_at >= session.updated_at:
            session = unsaved
        draft = self._drafts.get(key)
        if draft and now - draft[0] <= SESSION_TTL:
            session = replace(session, draft=dict(draft[1]))
        try:
            turn = self.engine.handle(session, inbound, datetime.fromtimestamp(now, UTC))
        except Exception:
            # Never a traceback to a person: log the failure (no words, no ids) and apologise.
            who = self._who(channel, key)
            log.exception("engine failed", extra={**who, "kind": inbound.kind.value})
            return [self._apology(session)]
        kept = turn.session
        if turn.report is not None and self._too_many_reports(key, now):
            log.warning("one person is sending many reports", extra=self._who(channel, key))
            return [self._hold_report(key, now, draft, session.lang)]
        answers, kept.draft = kept.draft, {}
        if answers:
            self._drafts[key] = (now, answers)
        else:
            self._drafts.pop(key, None)
        effects = {e for r in turn.replies for e in r.effects}
        forget = bool(effects & {Effect.FORGET, Effect.RESET})
        report, user_key = None, None
        if turn.report is not None:
            report = replace(turn.report, channel=channel)
            user_key = key if report.contact else None  # an anonymous report carries no key
        kept.updated_at = now
        try:
            self.store.commit(key, None if forget else kept, report, user_key, update)
            if Effect.FORGET in effects:
                self.store.forget(key)
        except StoreUnavailable as exc:
            log.error("could not save: %s", exc, extra=self._who(channel, key))
            if not forget and report is None:
                self._keep_unsaved(key, kept)
            return self._not_saved(key, now, draft, turn.replies, effects, report, kept.lang)
        self._unsaved.pop(key, None)
        if report is not None:
            self._filed.add(key, now)
        lang = kept.lang or session.lang or "unknown"
        try:
            self.store.record(today(now), channel, lang, turn.events)
        except StoreUnavailable as exc:
            log.warning("could not count: %s", exc)  # only the statistics miss it
        if report is not None:
            self._announce(report)
        return turn.replies

    def _keep_unsaved(self, key: str, session: Session) -> None:
        """Remember where the person is, in memory, until the store takes it again."""
        self._unsaved[key] = session
        self._unsaved.move_to_end(key)
        while len(self._unsaved) > UNSAVED_KEPT:
            self._unsaved.popitem(last=False)

    def _too_many_reports(self, key: str, now: float) -> bool:
        """Whether this person has sent REPORTS_MAX reports in the last REPORTS_WINDOW seconds."""
        return self._filed.full(key, now)

    def _hold_report(
        self, key: str, now: float, draft: tuple[float, dict[str, Any]] | None, lang: str | None
    ) -> Reply:
        """Not sent: too many reports at once. The answers stay, so Send works later."""
        return self._send_later(key, now, draft, lang, TOO_MANY_REPORTS)

    def _send_later(self, key: str, now: float, draft: tuple[float, dict[str, Any]] | None,
                    lang: str | None, message: str) -> Reply:  # fmt: skip
        """A report not filed: keep its answers in memory and offer Send again."""
        if draft is not None:
            self._drafts[key] = (now, draft[1])
        _ = self.engine.content.catalogs.get(lang)
        again = (Choice("act:file_report", _("Send")), Choice("act:cancel_report", _("Don't send")))
        return Reply(_(message), again, lang=lang or "en")

    @staticmethod
    def _who(channel: str, key: str) -> dict[str, str]:
        """Log fields that tell one person's lines apart without saying who they are."""
        return {"channel": channel, "person": key[:12]}  # a slice of the HMAC, not the id

    def _not_saved(
        self,
        key: str,
        now: float,
        draft: tuple[float, dict[str, Any]] | None,
        replies: list[Reply],
        effects: set[Effect],
        report: Report | None,
        lang: str | None,
    ) -> list[Reply]:
        """What to say when the database refused a turn's changes: never that they were kept."""
        _ = self.engine.content.catalogs.get(lang)
        if report is not None:
            return [self._send_later(key, now, draft, lang, NOT_SAVED)]
        if Effect.FORGET in effects:
            text = _(
                "Sorry, I could not erase what is kept about you: our system has a problem right "
                "now. Please try Forget me again in a few minutes."
            )
            return [Reply(text, (Choice(MENU, _(HOME)),), lang=lang or "en")]
        return replies  # the answer stands; only where the person was in the menus is not kept

    async def feed(
        self, channel: str, user_id: str, inbound: Inbound, update_id: str | None = None
    ) -> list[Reply]:
        """Like handle, but two events from the same person never run at once."""
        key = self.key(channel, user_id)
        if self._too_fast(key):
            return self._slow_down(channel, key)
        async with self._locks.hold(key):
            # A button or a command needs no model: while the engine's process is starting
            # (or coming back), this one answers it at once rather than keep the person waiting.
            if self.remote is None or (not self.remote.alive and inbound.kind is not Kind.TEXT):
                return self.handle(channel, user_id, inbound, update_id)
            try:
                replies, report = await self.remote.handle(channel, user_id, inbound, update_id)
            except WorkerError as exc:
                log.error("engine process failed: %s", exc, extra=self._who(channel, key))
                return [self._apology(self.store.load_session(key, self._clock()) or Session())]
            if report is not None:
                self._announce(report)
            return replies

    def admit(self, channel: str, user_id: str) -> bool:
        """Whether to take this person's update at the webhook, counting it if so.

        A channel asks before doing any work for an update: past the limit and the one update
        that is told to slow down, a flood is dropped at once, so it costs next to nothing.
        """
        return self._arrivals.take(self.key(channel, user_id), self._clock())

    def _too_fast(self, key: str) -> bool:
        """Whether this person has used up a limit (RATE_MAX a minute, BURST_MAX in a burst)."""
        return not self._turns.take(key, self._clock())

    def _slow_down(self, channel: str, key: PersonKey) -> list[Reply]:
        """Ask to slow down (in the person's language, with 999), once a minute at most."""
        if not self._told.take(key, self._clock()):
            return []
        log.warning("one person is sending too fast", extra=self._who(channel, key))
        try:
            session = self.store.load_session(key, self._clock())
        except StoreUnavailable:
            session = None
        lang = session.lang if session else None
        _ = self.engine.content.catalogs.get(lang)
        return [self.engine.finish(lang, Reply(_(SLOW_DOWN)))]

    def _announce(self, report: Report) -> None:
        for listener in self.report_listeners:
            try:
                result = listener(report)
                if asyncio.iscoroutine(result):
                    # Keep a reference so the task is not collected before it finishes.
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            except Exception:
                log.exception("report listener failed")

    def _apology(self, session: Session) -> Reply:
        _ = self.engine.content.catalogs.get(session.lang)
        home = Choice(MENU, _(HOME))
        return Reply(_("Sorry, something went wrong on our side. Please try again."), (home,))
