"""Per-person ordering: one person's work runs in arrival order, nobody overtakes."""

from __future__ import annotations

import asyncio

from bot.service.locks import KeyedLocks


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


async def test_one_persons_backlog_holds_none_of_the_shared_telegram_slots() -> None:
    import asyncio
    from datetime import UTC, datetime

    from telegram import Chat, Message, Update

    from bot.channels.telegram.updates import InOrder

    def update(update_id: int, chat_id: int) -> Update:
        message = Message(update_id, datetime.now(UTC), Chat(chat_id, Chat.PRIVATE))
        return Update(update_id, message=message)

    processor = InOrder(max_concurrent_updates=2)
    gate = asyncio.Event()
    order: list[str] = []

    async def slow(tag: str) -> None:
        order.append(f"{tag} starts")
        await gate.wait()
        order.append(f"{tag} ends")

    async def quick(tag: str) -> None:
        order.append(tag)

    backlog = [asyncio.create_task(processor.process_update(update(i, 1), slow(f"a{i}")))
               for i in range(5)]  # fmt: skip
    await asyncio.sleep(0.01)
    # Someone else is answered while the first person's five updates wait on each other.
    await asyncio.wait_for(processor.process_update(update(9, 2), quick("b")), timeout=1)
    assert order == ["a0 starts", "b"]
    gate.set()
    await asyncio.gather(*backlog)
    assert [x for x in order if x.startswith("a")] == [
        f"a{i} {e}" for i in range(5) for e in ("starts", "ends")
    ]
