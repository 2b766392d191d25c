"""Trying a channel's API call again after a rate limit, a server error or a timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
ATTEMPTS = 4

# How long to wait after this failure of this attempt (0-based), or None to give up at once.
Backoff = Callable[[Exception, int], float | None]


async def retrying(
    call: Callable[[], Awaitable[T]], backoff: Backoff, attempts: int = ATTEMPTS
) -> T:
    """Run `call`; after a failure `backoff` says is passing, wait and try again."""
    for attempt in range(attempts):
        try:
            return await call()
        except Exception as exc:
            delay = backoff(exc, attempt)
            if delay is None or attempt == attempts - 1:
                raise
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
