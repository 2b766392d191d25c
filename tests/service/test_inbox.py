"""Nothing acknowledged is lost: the durable inbox of updates, and staff posts retried."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import bot.service.inbox
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.updates import DurableQueue
from bot.core.engine import Engine
from bot.service.conversation import BURST_MAX, Conversations
from bot.service.inbox import TELEGRAM_UNNEEDED, Inbox, slim
from bot.storage.memory import MemoryStore
from bot.storage.sqlite import SqliteStore
from bot.storage.store import INBOX_TRIES
from tests.channels.test_telegram import replies_to, settings_for
from tests.channels.test_whatsapp import ME, open_rig
from tests.core.test_reporting import ANONYMOUS, FORM, SEND, fill_form
from tests.fake_telegram import RESIDENT, FakeTelegram
from tests.fake_whatsapp import encode, text_message

SECRET = b"k" * 32


@pytest.fixture
async def channels(
    fake: FakeTelegram, engine: Engine, tmp_path: Path
) -> AsyncIterator[Callable[..., TelegramChannel]]:
    """Telegram channels on one SQLite store, as `bot run` restarted on one data directory."""
    made: list[TelegramChannel] = []
    store = SqliteStore(tmp_path / "bot.db")

    def make(**changes: Any) -> TelegramChannel:
        conv = Conversations(engine, store, SECRET)
        channel = TelegramChannel(conv, settings_for(fake, tmp_path, **changes), max_rate=0)
        channel._retry_pause = 0.01
        channel._post_pauses = (60.0, 0.05, 0.2)
        made.append(channel)
        return channel

    yield make
    for channel in made:
        if channel.app.running:
            await channel.stop()
    store.close()


def kept(data_dir: Path) -> int:
    """How many updates the inbox holds, read as another process would."""
    with contextlib.closing(sqlite3.connect(data_dir / "bot.db")) as db:
        return int(db.execute("select count(*) from inbox").fetchone()[0])


WEBHOOK = {"telegram_webhook_url": "https://bot.example.org/webhooks/telegram"}


async def test_an_update_acknowledged_before_a_crash_is_answered_after_the_restart(
    fake: FakeTelegram, channels: Callable[..., TelegramChannel], tmp_path: Path
) -> None:
    crashed = channels(**WEBHOOK)
    update = fake.user_message(60, "my neighbour plays loud music every night", enqueue=False)
    await crashed.accept(update)  # what the webhook does before it answers 200
    # The process dies here, before the turn ran: the update is on disk, without the name.
    raw = (tmp_path / "bot.db").read_bytes() + (tmp_path / "bot.db-wal").read_bytes()
    assert b"loud music" in raw
    assert RESIDENT.encode() not in raw
    restarted = channels(**WEBHOOK)
    await restarted.start()
    [answer] = await replies_to(fake, 60, 1)
    assert "Streetline" in answer["text"]  # the noise service: the turn ran
    await fake.wait_for(lambda: kept(tmp_path) == 0)  # done, so gone


async def test_a_report_saved_just_before_a_crash_still_gets_its_reference_sent(
    fake: FakeTelegram, channels: Callable[..., TelegramChannel]
) -> None:
    crashed = channels(**WEBHOOK)
    conv = crashed.conversations
    for inbound in (*FORM, ANONYMOUS):
        conv.handle("telegram", "61", inbound)
    user = {"id": 61, "is_bot": False, "first_name": RESIDENT, "language_code": "en"}
    press = fake.make_update(
        callback_query={
            "id": "61001",
            "from": user,
            "chat_instance": "61",
            "data": "act:file_report",
            "message": {"message_id": 1, "date": 0, "chat": {"id": 61, "type": "private"}},
        }
    )
    await crashed.accept(press)
    # The turn ran and the report was saved, and then the process died before the reply went.
    conv.handle("telegram", "61", SEND, update_id=str(press["update_id"]))
    [report] = conv.store.reports()
    restarted = channels(**WEBHOOK)
    await restarted.start()
    [answer] = await replies_to(fake, 61, 1)
    assert report.reference in answer["text"]
    assert len(restarted.conversations.store.reports()) == 1  # not filed twice


async def test_an_update_that_keeps_crashing_the_bot_is_dropped_after_a_few_tries(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    inbox = Inbox(store, "telegram", TELEGRAM_UNNEEDED)
    inbox.keep({"update_id": 1, "message": {"text": "x"}})
    for _ in range(INBOX_TRIES):
        assert len(inbox.unfinished()) == 1  # each restart tries it again...
    assert inbox.unfinished() == []  # ...until it is given up
    store.close()


def test_a_kept_update_has_no_names_contacts_or_quoted_messages() -> None:
    update = {
        "update_id": 5,
        "message": {
            "from": {"id": 9, "is_bot": False, "first_name": "Amina", "username": "amina_k"},
            "chat": {"id": 9, "type": "private", "first_name": "Amina"},
            "text": "help",
            "reply_to_message": {"text": "an earlier message"},
            "contact": {"phone_number": "+447700900123", "first_name": "Sam"},
        },
    }
    kept = json.dumps(slim(update, TELEGRAM_UNNEEDED))
    assert "help" in kept and '"id": 9' in kept
    for gone in ("Amina", "amina_k", "earlier", "7700", "Sam"):
        assert gone not in kept


async def test_no_words_stay_in_any_file_once_the_turns_are_done(
    fake: FakeTelegram,
    channels: Callable[..., TelegramChannel],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.service.inbox, "TIDY_AFTER", 0.05)
    channel = channels(**WEBHOOK)
    await channel.start()
    words = "my brother sleeps on the balcony xylophone"
    await channel.accept(fake.user_message(62, words, enqueue=False))
    await replies_to(fake, 62, 1)
    await fake.wait_for(lambda: not (tmp_path / "bot.db-wal").stat().st_size, timeout=5)
    for path in tmp_path.glob("bot.db*"):
        assert b"xylophone" not in path.read_bytes(), path.name


async def test_a_staff_post_refused_by_telegram_is_retried_until_it_goes(
    fake: FakeTelegram, channels: Callable[..., TelegramChannel], caplog: pytest.LogCaptureFixture
) -> None:
    channel = channels(staff_chat_id=-500)
    await channel.start()
    fake.fail("sendMessage", 502, times=6)  # Telegram down for longer than one call's retries
    conv = channel.conversations
    for inbound in (*FORM, ANONYMOUS, SEND):
        await conv.feed("telegram", "63", inbound)
    [report] = conv.store.reports()
    [post] = await replies_to(fake, -500, 1)
    assert report.reference in post["text"]
    await fake.wait_for(lambda: conv.store.unposted() == [])
    failures = [r.getMessage() for r in caplog.records if "staff chat" in r.getMessage()]
    assert failures and all("will retry" in line for line in failures)
    assert not any(report.reference in line for line in failures)  # nothing about the report


async def test_a_report_not_yet_posted_when_the_bot_stopped_is_posted_after_the_restart(
    fake: FakeTelegram, channels: Callable[..., TelegramChannel]
) -> None:
    down = channels()  # not started: the staff chat cannot be reached
    conv = down.conversations
    for inbound in (*FORM, ANONYMOUS, SEND):
        conv.handle("telegram", "64", inbound)
    [report] = conv.store.reports()
    assert [r.reference for r, _parts in conv.store.unposted()] == [report.reference]
    restarted = channels(staff_chat_id=-500)
    await restarted.start()
    [post] = await replies_to(fake, -500, 1)
    assert report.reference in post["text"]


def test_forget_me_also_drops_a_report_waiting_to_be_posted(engine: Engine, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    conv = Conversations(engine, store, SECRET)
    _confirm, send = fill_form(conv, "65", contact="07700 900123 after 6pm")
    send(SEND)
    assert len(store.unposted()) == 1  # no staff chat reached yet
    store.forget(conv.key("telegram", "65"))
    assert store.unposted() == [] and store.reports() == []
    store.close()


async def test_whatsapp_updates_acknowledged_before_a_crash_run_after_the_restart(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    async with open_rig(engine, tmp_path, store) as crashed:
        # Kept by the webhook, and then the process died before the turn ran.
        crashed.channel.inbox.keep(json.loads(encode(text_message(ME, "hola, necesito ayuda"))))
    caplog.set_level(logging.WARNING)
    async with open_rig(engine, tmp_path, store) as restarted:
        restarted.channel.resume()
        await restarted.channel.idle()
        [answer] = restarted.graph.sent(ME)
        assert answer["type"] in {"text", "interactive"}
        assert kept(tmp_path) == 0
    assert any("unfinished" in r.getMessage() for r in caplog.records)
    store.close()


async def test_polled_updates_are_kept_too_until_their_turn_is_done(fake: FakeTelegram) -> None:
    from telegram import Update

    store = MemoryStore()
    queue = DurableQueue(Inbox(store, "telegram", TELEGRAM_UNNEEDED))
    update = Update.de_json(fake.user_message(66, "is anyone there", enqueue=False), None)
    await queue.put(update)  # what PTB's updater does, before its next getUpdates
    [(_row, kept_body)] = store.inbox_unfinished("telegram", 0.0)
    assert b"is anyone there" in kept_body and RESIDENT.encode() not in kept_body
    assert queue.get_nowait() is update
    queue.finished(update)
    assert store.inbox == {}


async def test_a_flood_past_the_limit_is_not_even_kept(
    fake: FakeTelegram, channels: Callable[..., TelegramChannel], tmp_path: Path
) -> None:
    channel = channels(**WEBHOOK)
    await channel.start()
    for i in range(BURST_MAX + 1):  # a burst's limit, then the one that is told to slow down
        await channel.accept(fake.user_message(67, f"spam {i}", enqueue=False))
    assert kept(tmp_path) == BURST_MAX + 1
    await channel.accept(fake.user_message(67, "more spam", enqueue=False))
    assert kept(tmp_path) == BURST_MAX + 1 and channel.queue.qsize() == BURST_MAX + 1
    await channel.accept(fake.user_message(68, "someone else", enqueue=False))
    assert kept(tmp_path) == BURST_MAX + 2


async def test_a_polled_batch_is_kept_in_one_write_as_it_is_read(fake: FakeTelegram) -> None:
    from telegram import Update

    from bot.channels.telegram.updates import PollingRequest

    store = MemoryStore()
    queue = DurableQueue(Inbox(store, "telegram", TELEGRAM_UNNEEDED))
    batch = [fake.user_message(68, f"message {i}", enqueue=False) for i in range(3)]
    answer = json.dumps({"ok": True, "result": batch}).encode()
    assert PollingRequest(queue).parse_json_payload(answer)["result"] == batch
    assert len(store.inbox) == 3  # on disk before PTB (or Telegram) hears of them
    for data in batch:
        await queue.put(Update.de_json(data, None))
    assert len(store.inbox) == 3  # not kept twice
    while not queue.empty():
        queue.finished(queue.get_nowait())
    assert store.inbox == {}
