"""The staff chat: each new report posted there until Telegram has taken all of it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from telegram.error import TelegramError

from bot.channels.telegram.render import staff_parts
from bot.core.reports import Report, staff_text
from bot.storage.store import Reports, StoreUnavailable

log = logging.getLogger("bot.telegram")

# Looked for this often when all is well, and retried after a failure with pauses growing from
# the first figure to the second (Telegram down, or the staff chat misconfigured).
PAUSES = (60.0, 5.0, 600.0)


def stats_text(stats: dict[str, dict[str, int]]) -> str:
    """The running totals, one group a line, for the staff chat's /stats."""
    lines = [f"{group}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
             for group, counts in stats.items() if counts]  # fmt: skip
    return "\n".join(lines) or "No activity recorded yet."


class StaffPoster:
    """Posts reports to the staff chat; what is still to post is kept in the store."""

    def __init__(
        self,
        send: Callable[[int, str], Awaitable[object]],
        store: Reports,
        chat_id: int,
        pauses: tuple[float, float, float] = PAUSES,
    ) -> None:
        self._send = send
        self.store = store
        self.chat_id = chat_id
        self.pauses = pauses
        self.wake = asyncio.Event()

    async def run(self) -> None:
        """Post each new report to the staff chat, retrying until Telegram has taken it all.

        What is still to post lives in the store, so a restart does not lose it either.
        """
        idle, first, longest = self.pauses
        pause = first
        while True:
            self.wake.clear()
            try:
                waiting = self.store.unposted()
            except StoreUnavailable as exc:
                log.error("could not read the reports to post: %s", exc)
                waiting = None
            failed = waiting is None
            for report, posted in waiting or ():
                if not await self.post(report, posted):
                    failed = True
            wait = pause if failed else idle
            pause = min(pause * 2, longest) if failed else first
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)

    async def post(self, report: Report, posted: int = 0) -> bool:
        """Post a report to the staff chat, from part `posted` on; whether it all went."""
        parts = staff_parts(staff_text(report))
        store = self.store
        for i in range(posted, len(parts)):
            try:
                await self._send(self.chat_id, parts[i])
            except TelegramError as exc:
                log.error(
                    "could not post a report to the staff chat (part %d of %d): %s; will retry",
                    i + 1, len(parts), type(exc).__name__,
                )  # fmt: skip
                return False
            try:
                store.post_progress(report.reference, i + 1, done=i + 1 == len(parts))
            except StoreUnavailable as exc:
                # Posted but not noted: it may be posted again, which beats not at all.
                log.error("could not note a staff post: %s", exc)
                return False
        return True
