"""Per-person ordering: one person's work runs in arrival order, nobody overtakes."""

from __future__ import annotations

import asyncio

from bot.locks import KeyedLocks


async def test_work_for_one_key_runs_in_order_and_locks_are_dropped_after() -> None:
    locks = KeyedLocks()
    done: list[int] = []

    async def work(key: str, n: int, pause: float) -> None:
        async with locks.hold(key):
            await asyncio.sleep(pause)
            done.append(n)

    first = asyncio.create_task(work("a", 1, 0.02))
    await asyncio.sleep(0)
    second = asyncio.create_task(work("a", 2, 0.05))
    other = asyncio.create_task(work("b", 9, 0))
    await asyncio.sleep(0.03)  # the first has finished; the second holds the lock
    third = asyncio.create_task(work("a", 3, 0))  # a newcomer must wait for the second
    await asyncio.gather(first, second, other, third)
    assert [n for n in done if n != 9] == [1, 2, 3]
    assert done.index(9) < done.index(1)  # another person never waits for this one
    assert len(locks) == 0
