"""The same conversations over the console, Telegram and WhatsApp: the same words come out."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest

from bot.channels.console import ConsoleChat
from bot.channels.telegram.channel import TelegramChannel
from bot.core.engine import Engine
from bot.core.types import Inbound
from bot.service.conversation import Conversations
from bot.settings import Secret, Settings
from bot.storage.memory import MemoryStore
from tests.channels.test_whatsapp import APP_SECRET, ME, VERIFY, WhatsAppRig, body, open_rig
from tests.conftest import Chat
from tests.fake_telegram import FakeTelegram
from tests.fake_whatsapp import PHONE_ID, FakeGraph, encode, list_reply, sign, text_message

# Each conversation: steps (typed text, or a pressed choice id) and words the last answer holds.
CONVERSATIONS: list[tuple[str, list[tuple[str, str]], list[str]]] = [
    ("menu", [("press", "menu")], ["999"]),
    (
        "a topic",
        [("press", "help"), ("press", "topic:vawg")],
        ["Violence against women and girls", "9 services can help"],
    ),
    ("a service card", [("press", "svc:streetline")], ["streetline@rbkc.gov.uk"]),
    ("search", [("type", "noisy neighbours every night")], ["Streetline"]),
    ("danger", [("type", "he has a knife outside my door")], ["999", "55"]),
    ("privacy", [("type", "/privacy")], ["Forget me", "name or number"]),
    ("quick exit", [("press", "help"), ("press", "act:exit")], ["Cleared."]),
    # A number typed where the form asks for words is the answer, never a button.
    (
        "a number as an answer",
        [("press", "report.form"), ("type", "1")],
        ["Where is it happening?"],
    ),
]


class Driver(Protocol):
    """Talks to the assistant over one channel, already past the language question."""

    async def step(self, kind: str, value: str, expect: int) -> list[str]:
        """Send one step; return the plain text of the `expect` answers."""


def plain(text: str) -> str:
    """Markup of any channel removed: what a person reads."""
    return html.unescape(re.sub(r"<[^>]+>", "", text)).replace("*", "")


class Console:
    """A person at `bot chat`: types a choice's number when it is shown, JSON otherwise."""

    def __init__(self, engine: Engine) -> None:
        self.chat = ConsoleChat(Conversations(engine, MemoryStore(), b"k" * 32), "en")
        self.chat.start()

    async def step(self, kind: str, value: str, expect: int) -> list[str]:
        if kind == "press" and value in self.chat.choices and not self.chat.typed_answer:
            line = str(self.chat.choices.index(value) + 1)
        else:
            line = json.dumps({"choice": value}) if kind == "press" else value
        return [self.chat.send(line)]


class Telegram:
    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake

    async def step(self, kind: str, value: str, expect: int) -> list[str]:
        before = len(self.fake.sent(5))
        if kind == "press":
            update = self.fake.user_message(5, "/start", enqueue=False)
            # A press on the last message, whatever it offered: the engine decides if it is valid.
            self.fake.user_update(
                {"callback_query": {"id": str(update["update_id"]), "chat_instance": "5",
                                    "from": update["message"]["from"], "data": value,
                                    "message": update["message"]}}
            )  # fmt: skip
        else:
            self.fake.user_message(5, value)
        await self.fake.wait_for(lambda: len(self.fake.sent(5)) >= before + expect)
        await asyncio.sleep(0.05)
        return [plain(str(m["text"])) for m in self.fake.sent(5)[before:]]


class WhatsApp:
    def __init__(self, rig: WhatsAppRig) -> None:
        self.rig = rig

    async def step(self, kind: str, value: str, expect: int) -> list[str]:
        payload = list_reply(ME, value, "x") if kind == "press" else text_message(ME, value)
        return [plain(body(m)) for m in await self.rig.say(payload)]


@pytest.fixture(params=["console", "telegram", "whatsapp"])
async def driver(
    request: pytest.FixtureRequest, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Driver]:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    if request.param == "console":
        yield Console(engine)
    elif request.param == "telegram":
        async with FakeTelegram() as fake:
            settings = Settings(
                data_dir=tmp_path, telegram_token=Secret(fake.token), telegram_api_url=fake.url
            )
            conv = Conversations(engine, MemoryStore(), b"k" * 32)
            channel = TelegramChannel(conv, settings, max_rate=0)
            await channel.start()
            try:
                await conv.feed("telegram", "5", Inbound.choice("lang:en"))
                yield Telegram(fake)
            finally:
                await channel.stop()
    else:
        async with open_rig(engine, tmp_path) as rig:
            await rig.say(text_message(ME, "hello"))
            await rig.say(list_reply(ME, "lang:en", "English"))
            yield WhatsApp(rig)


@pytest.mark.parametrize(
    ("name", "steps", "words"), CONVERSATIONS, ids=[c[0] for c in CONVERSATIONS]
)
async def test_the_same_conversation_on_every_channel(
    driver: Driver, engine: Engine, name: str, steps: list[tuple[str, str]], words: list[str]
) -> None:
    chat = Chat(engine, "en")
    for kind, value in steps:
        want = chat.press(value) if kind == "press" else chat.send(Inbound.typed(value))
        got = await driver.step(kind, value, len(want))
    said = " ".join(got)
    for word in words:
        assert word in said, (name, word)
    # Every channel carries the engine's words, whatever it adds around them.
    for reply in want:
        first_line = plain(reply.text).splitlines()[0]
        assert first_line in said, (name, first_line)


async def test_bot_run_serves_both_channels_and_stops_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import httpx

    from bot.runner import run

    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with FakeTelegram() as fake, FakeGraph() as graph:
        settings = Settings(
            data_dir=tmp_path,
            telegram_token=Secret(fake.token),
            telegram_api_url=fake.url,
            whatsapp_token=Secret(graph.token),
            whatsapp_phone_number_id=PHONE_ID,
            whatsapp_app_secret=Secret(APP_SECRET),
            whatsapp_verify_token=Secret(VERIFY),
            whatsapp_api_url=graph.url,
            host="127.0.0.1",
            port=port,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(run(settings, stop))
        fake.user_message(9, "/start")
        await fake.wait_for(lambda: len(fake.sent(9)) >= 1, timeout=10)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    health = await client.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            assert health.json() == {"status": "ok"}
            body = encode(text_message("447700900002", "mi vecino hace ruido toda la noche"))
            headers = {"X-Hub-Signature-256": sign(body, APP_SECRET)}
            posted = await client.post("/webhooks/whatsapp", content=body, headers=headers)
            assert posted.status_code == 200
        # The webhook answers at once; the reply follows.
        await graph.wait_for(lambda: any("Streetline" in t for t in graph.texts("447700900002")))
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert (tmp_path / "bot.db").exists()
