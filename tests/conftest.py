"""Shared fixtures: the real content, an engine, and conversations over an in-memory store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.content.loader import Content, load_content
from bot.core.engine import Engine
from bot.core.types import Inbound, Reply, Session
from bot.service.conversation import Conversations
from bot.storage.memory import MemoryStore
from tests.fake_telegram import FakeTelegram

# A Tuesday afternoon in November, London time (= UTC in winter).
TUESDAY_3PM = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content()


@pytest.fixture(scope="session")
def engine(content: Content) -> Engine:
    return Engine(content)


@pytest.fixture(scope="session", autouse=True)
def trained(engine: Engine) -> None:
    """Learn from the examples once, first: every `bot` process the tests start finds the cache."""
    engine.warm()


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    """A fake Bot API server on 127.0.0.1, for the real python-telegram-bot to talk to."""
    # Opt in to PTB's timedelta durations: reading an int one warns, and warnings are errors.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def conv(engine: Engine) -> Conversations:
    return Conversations(engine, MemoryStore(), b"k" * 32, clock=lambda: TUESDAY_3PM.timestamp())


class Chat:
    """A person talking to the engine directly, keeping their session between turns."""

    def __init__(self, engine: Engine, lang: str | None = "en") -> None:
        self.engine = engine
        self.session = Session(lang=lang)
        self.events: list[tuple[str, str]] = []

    def send(self, inbound: Inbound) -> list[Reply]:
        turn = self.engine.handle(self.session, inbound, TUESDAY_3PM)
        self.session = turn.session
        self.events += turn.events
        return turn.replies

    def say(self, text: str) -> list[Reply]:
        return self.send(Inbound.message(text))

    def press(self, choice_id: str) -> list[Reply]:
        return self.send(Inbound.choice(choice_id))

    def command(self, name: str, arg: str = "") -> list[Reply]:
        return self.send(Inbound.command(name, arg))


@pytest.fixture
def chat(engine: Engine) -> Chat:
    return Chat(engine)


def ids(reply: Reply) -> list[str]:
    """The choice ids a reply offers."""
    return [c.id for c in reply.choices]
