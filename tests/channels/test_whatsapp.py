"""The real pywa webhook path, our web server, and a fake Graph API server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.channels.web import WHATSAPP_SIGNATURE_HEADER, create_app
from bot.channels.whatsapp.channel import WhatsAppChannel
from bot.content.i18n import LANGS, NATIVE_NAMES
from bot.content.loader import Content
from bot.core.engine import Engine
from bot.service.conversation import Conversations
from bot.settings import Secret, Settings
from bot.storage.memory import MemoryStore
from tests.fake_whatsapp import (
    PHONE_ID,
    FakeGraph,
    audio_message,
    button_reply,
    encode,
    image_message,
    list_reply,
    location_message,
    sign,
    status_update,
    sticker_message,
    text_message,
)

APP_SECRET = "app-secret-for-tests"
VERIFY = "verify-me"
ME = "447700900123"
JSON = dict[str, Any]


@dataclass
class WhatsAppRig:
    """The fake Graph server, our channel and a client for our webhook."""

    graph: FakeGraph
    channel: WhatsAppChannel
    store: MemoryStore
    client: httpx.AsyncClient

    async def post(self, payload: JSON, signature: str | None = "good") -> httpx.Response:
        body = encode(payload)
        headers = {"Content-Type": "application/json"}
        if signature == "good":
            headers[WHATSAPP_SIGNATURE_HEADER] = sign(body, APP_SECRET)
        elif signature is not None:
            headers[WHATSAPP_SIGNATURE_HEADER] = signature
        return await self.client.post("/webhooks/whatsapp", content=body, headers=headers)

    async def say(self, payload: JSON) -> list[JSON]:
        """Post a signed update; return the messages sent in answer."""
        before = len(self.graph.sent(ME))
        answer = await self.post(payload)
        assert answer.status_code == 200, answer.text
        await self.channel.idle()  # the webhook answers at once; the replies follow
        return self.graph.sent(ME)[before:]


@contextlib.asynccontextmanager
async def open_rig(engine: Engine, data_dir: Path, store: Any = None) -> AsyncIterator[WhatsAppRig]:
    """A fake Graph server, our channel on a store (fresh unless given), and a client for it."""
    async with FakeGraph() as graph:
        settings = Settings(
            data_dir=data_dir,
            whatsapp_token=Secret(graph.token),
            whatsapp_phone_number_id=PHONE_ID,
            whatsapp_app_secret=Secret(APP_SECRET),
            whatsapp_verify_token=Secret(VERIFY),
            whatsapp_api_url=graph.url,
        )
        store = MemoryStore() if store is None else store
        channel = WhatsAppChannel(Conversations(engine, store, b"k" * 32), settings)
        channel._retry_pause = 0.01
        app = create_app(store, whatsapp=channel)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
            yield WhatsAppRig(graph, channel, store, client)
        await channel.close()


@pytest.fixture
async def rig(engine: Engine, tmp_path: Path) -> AsyncIterator[WhatsAppRig]:
    async with open_rig(engine, tmp_path) as opened:
        yield opened


def body(message: JSON) -> str:
    if message.get("type") == "text":
        return str(message["text"]["body"])
    return str(message["interactive"]["body"]["text"])


def options(message: JSON) -> list[tuple[str, str]]:
    """(id, title) of every button or list row a message offers."""
    if message.get("type") != "interactive":
        return []
    action = message["interactive"]["action"]
    if "buttons" in action:
        return [(b["reply"]["id"], b["reply"]["title"]) for b in action["buttons"]]
    return [(r["id"], r["title"]) for s in action["sections"] for r in s["rows"]]


async def test_verification_echoes_the_challenge_only_for_the_right_token(
    rig: WhatsAppRig,
) -> None:
    ok = await rig.client.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"},
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = await rig.client.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1158201444"},
    )
    assert wrong.status_code == 403 and "1158201444" not in wrong.text


@pytest.mark.parametrize(("signature", "status"), [(None, 401), ("sha256=" + "0" * 64, 403)])
async def test_unsigned_or_badly_signed_posts_are_refused(
    rig: WhatsAppRig, signature: str | None, status: int
) -> None:
    answer = await rig.post(text_message(ME, "hello"), signature=signature)
    assert answer.status_code == status
    assert rig.graph.sent() == [] and not rig.store.sessions


async def test_first_contact_asks_the_language_each_in_itself(rig: WhatsAppRig) -> None:
    [ask] = await rig.say(text_message(ME, "hello"))
    assert [title for _id, title in options(ask)] == [NATIVE_NAMES[lang] for lang in LANGS]
    [menu] = await rig.say(list_reply(ME, "lang:so", NATIVE_NAMES["so"]))
    assert "999" in body(menu)
    assert ("help", "🆘 Hel caawimaad") in options(menu) or any(
        i == "help" for i, _ in options(menu)
    )
    assert rig.graph.read, "read receipts are sent"


async def test_a_clear_first_message_is_answered_in_its_own_language(
    rig: WhatsAppRig, engine: Engine
) -> None:
    sent = await rig.say(text_message(ME, "mi vecino hace ruido toda la noche"))
    assert sent, "an answer came"
    es = engine.content.catalogs.get("es")
    assert any("Streetline" in body(m) for m in sent)
    assert all(es("Choose your language.") not in body(m) for m in sent)


async def test_buttons_lists_and_paging_walk_the_menus(rig: WhatsAppRig) -> None:
    await rig.say(text_message(ME, "hello"))
    await rig.say(list_reply(ME, "lang:en", "English"))
    [help_screen] = await rig.say(list_reply(ME, "help", "Get help"))
    rows = options(help_screen)
    assert rows[-1][0] == "page:1"  # ten topics and Main menu: the list is paged
    [page2] = await rig.say(list_reply(ME, "page:1", "➡️ More"))
    assert [i for i, _ in options(page2)][-1] == "menu"
    [topic] = await rig.say(list_reply(ME, "topic:vawg", "Violence against women"))
    assert ("svc:angelou", "The Angelou Partnership") in options(topic)
    assert "WhatsApp keeps this chat on your phone" in body(topic)  # a sensitive screen
    first_id, first_title = options(topic)[0]
    assert first_id.startswith("svc:")
    [typed] = await rig.say(text_message(ME, "1"))  # choices answer to their number too
    assert first_title.split(" ", 1)[-1][:10] in body(typed)


async def test_a_shared_location_answers_where_in_the_report_form(rig: WhatsAppRig) -> None:
    await rig.say(text_message(ME, "hello"))
    await rig.say(list_reply(ME, "lang:en", "English"))
    await rig.channel.conversations.feed("whatsapp", ME, _choice("report.form"))
    await rig.say(text_message(ME, "people dealing drugs on the stairs"))
    await rig.say(location_message(ME, 51.5203, -0.2105))
    [(_at, answers)] = rig.channel.conversations._drafts.values()
    assert answers["where"] == "51.5203, -0.2105"


def _choice(choice_id: str) -> Any:
    from bot.core.types import Inbound

    return Inbound.choice(choice_id)


@pytest.mark.parametrize("payload", [sticker_message(ME), image_message(ME), audio_message(ME)])
async def test_stickers_images_and_voice_get_a_polite_answer(
    rig: WhatsAppRig, payload: JSON
) -> None:
    await rig.say(text_message(ME, "hello"))
    await rig.say(list_reply(ME, "lang:en", "English"))
    [answer] = await rig.say(payload)
    assert body(answer).startswith("Sorry, I can only read text and button presses here.")


async def test_a_status_update_is_accepted_and_answers_nothing(rig: WhatsAppRig) -> None:
    sent = await rig.say(status_update("wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1", ME))
    assert sent == []


async def test_a_redelivered_message_is_answered_once(rig: WhatsAppRig) -> None:
    first = text_message(ME, "hello")
    assert len(await rig.say(first)) == 1
    again = json.loads(json.dumps(first))
    again["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = "1700000999"
    assert await rig.say(again) == []  # same message id, different bytes: still once


async def test_rate_limits_and_server_errors_are_waited_out(rig: WhatsAppRig) -> None:
    rig.graph.fail(429)
    rig.graph.fail(503)
    [ask] = await rig.say(text_message(ME, "hello"))
    assert len(options(ask)) == len(LANGS)
    assert [c.status for c in rig.graph.calls if c.kind == "send"] == [429, 503, 200]


async def test_forget_me_erases_the_server_side(rig: WhatsAppRig) -> None:
    await rig.say(text_message(ME, "hello"))
    await rig.say(list_reply(ME, "lang:en", "English"))
    assert rig.store.sessions
    await rig.say(text_message(ME, "/forget"))
    [done] = await rig.say(button_reply(ME, "act:forget_confirmed", "Yes, erase"))
    assert body(done).startswith("Done. Everything this assistant kept about you has been erased.")
    assert not rig.store.sessions


async def test_one_persons_replies_keep_the_order_of_their_messages(rig: WhatsAppRig) -> None:
    await rig.say(text_message(ME, "English"))
    rig.graph.delay = 0.05  # each send takes a while, so a second turn could slip in between
    danger = await rig.post(text_message(ME, "he has a knife outside my door now"))
    privacy = await rig.post(text_message(ME, "/privacy"))
    assert danger.status_code == privacy.status_code == 200  # both answered at once
    await rig.channel.idle()
    texts = rig.graph.texts(ME)
    about = [i for i, t in enumerate(texts) if "kept" in t.lower()]
    # The privacy screen comes last: everything the danger message brought came before it.
    assert about == [len(texts) - 1], texts
    assert any("999" in t and "55" in t for t in texts[:-1]), texts


async def test_start_builds_the_language_guesser_before_the_first_message(
    content: Content, tmp_path: Path
) -> None:
    # Built on the event loop by the first message, it held every channel for about a second.
    engine = Engine(content)
    async with open_rig(engine, tmp_path) as rig:
        assert "languages" not in vars(engine)
        await rig.channel.start()
        assert "languages" in vars(engine)
        sent = await rig.say(text_message(ME, "mi vecino hace ruido toda la noche"))
        assert any("Streetline" in body(m) for m in sent)  # answered, in Spanish
