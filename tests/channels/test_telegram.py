"""The real python-telegram-bot against a fake Bot API server on 127.0.0.1: polling and webhook."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.channels.server import server
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.render import to_html
from bot.channels.web import MAX_BODY, TELEGRAM_SECRET_HEADER, create_app
from bot.content.i18n import LANGS
from bot.core.engine import Engine
from bot.core.types import Inbound, Reply
from bot.service.conversation import Conversations
from bot.settings import Secret, Settings
from bot.storage.memory import MemoryStore
from tests.conftest import Chat
from tests.fake_telegram import FakeTelegram, render

JSON = dict[str, Any]


def settings_for(fake: FakeTelegram, tmp_path: Path, **changes: Any) -> Settings:
    base = Settings(data_dir=tmp_path, telegram_token=Secret(fake.token), telegram_api_url=fake.url)
    return replace(base, **changes)


class Running:
    """A started channel, its conversations and store."""

    def __init__(self, channel: TelegramChannel, store: MemoryStore) -> None:
        self.channel = channel
        self.store = store


@pytest.fixture
async def start(
    fake: FakeTelegram, engine: Engine, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    started: list[TelegramChannel] = []

    async def _start(store: MemoryStore | None = None, **changes: Any) -> Running:
        store = store if store is not None else MemoryStore()
        conv = Conversations(engine, store, b"k" * 32)
        channel = TelegramChannel(conv, settings_for(fake, tmp_path, **changes), max_rate=0)
        channel._retry_pause = 0.01
        await channel.start()
        started.append(channel)
        return Running(channel, store)

    yield _start
    for channel in started:
        await channel.stop()


def expected(engine: Engine, lang: str | None, *steps: Inbound) -> list[Reply]:
    """What the engine says after these steps, for comparing with what Telegram received."""
    chat = Chat(engine, lang)
    replies: list[Reply] = []
    for step in steps:
        replies = chat.send(step)
    return replies


def buttons(params: JSON) -> list[tuple[str, str]]:
    markup = params.get("reply_markup") or {}
    return [
        (b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row
    ]


async def replies_to(fake: FakeTelegram, chat_id: int, count: int) -> list[JSON]:
    await fake.wait_for(lambda: len(fake.sent(chat_id)) >= count)
    return fake.sent(chat_id)


@pytest.mark.parametrize(("device", "lang"), [("fr", "fr"), ("ar", "ar"), ("pt-br", "pt")])
async def test_menus_and_presses_in_the_persons_language(
    fake: FakeTelegram, start: Callable[..., Any], engine: Engine, device: str, lang: str
) -> None:
    await start()
    fake.user_message(11, "/start", language_code=device)
    [menu] = await replies_to(fake, 11, 1)
    [want] = expected(engine, lang, Inbound.command("start"))
    assert menu["text"] == to_html(want.text)
    assert menu["parse_mode"] == "HTML"
    assert buttons(menu) == [(c.label, c.id) for c in want.choices]

    fake.user_press(11, "help", language_code=device)
    await replies_to(fake, 11, 2)
    fake.user_press(11, "topic:vawg", language_code=device)
    sent = await replies_to(fake, 11, 3)
    steps = [Inbound.command("start"), Inbound.choice("help"), Inbound.choice("topic:vawg")]
    [topic] = expected(engine, lang, *steps)
    assert sent[2]["text"] == to_html(topic.text)
    assert ("The Angelou Partnership", "svc:angelou") in buttons(sent[2])  # names stay as they are
    assert fake.calls_to("answerCallbackQuery"), "the button's spinner is stopped"


async def test_commands_are_listed_in_every_language(
    fake: FakeTelegram, start: Callable[..., Any], engine: Engine
) -> None:
    await start()
    assert set(fake.commands) == {None, *LANGS}
    names = ["start", "help", "language", "exit", "forget", "privacy"]  # as commands.yaml has them
    assert [c["command"] for c in fake.commands["so"]] == names
    fr = {c["command"]: c["description"] for c in fake.commands["fr"]}
    en = {c["command"]: c["description"] for c in fake.commands[None]}
    assert en["exit"] == "Quick exit: clear this chat"
    assert fr["exit"] == engine.content.catalogs.get("fr")("Quick exit: clear this chat")
    assert fr["exit"] != en["exit"]


async def test_deep_link_opens_a_topic_in_a_language(
    fake: FakeTelegram, start: Callable[..., Any], engine: Engine
) -> None:
    await start()
    fake.user_message(12, "/start so_youth", language_code="en")
    [sent] = await replies_to(fake, 12, 1)
    [want] = expected(engine, None, Inbound.command("start", "so_youth"))
    assert sent["text"] == to_html(want.text)
    assert ("Midaye", "svc:midaye") in buttons(sent)  # Somali families' service, on page one


async def open_domestic_abuse(fake: FakeTelegram, chat: int) -> list[JSON]:
    """Start, Help, then the domestic abuse screen: the three replies in the chat."""
    fake.user_message(chat, "/start")
    await replies_to(fake, chat, 1)
    fake.user_press(chat, "help")
    await replies_to(fake, chat, 2)
    fake.user_press(chat, "topic:vawg")
    return await replies_to(fake, chat, 3)


async def quick_exit(fake: FakeTelegram, chat: int) -> set[int]:
    """Send /exit; once only the "Cleared" message is left, the ids Telegram was asked to delete."""
    fake.user_message(chat, "/exit")
    await fake.wait_for(
        lambda: bool(
            fake.calls_to("deleteMessages") and fake.sent(chat)[-1]["text"].startswith("Cleared")
        )
    )
    left = [m["text"] for m in fake.messages[chat].values()]
    assert left == ["Cleared. Send any message to start again."]
    return {i for call in fake.calls_to("deleteMessages") for i in call["message_ids"]}


async def test_quick_exit_deletes_both_sides_and_the_session(
    fake: FakeTelegram, start: Callable[..., Any]
) -> None:
    running = await start()
    await open_domestic_abuse(fake, 13)
    fake.user_message(13, "my husband checks my phone")
    await replies_to(fake, 13, 4)
    assert running.store.sessions
    before = set(fake.messages[13])
    deleted = await quick_exit(fake, 13)
    assert deleted == before | {max(before) + 1}  # everything before, and the /exit itself
    assert not running.store.sessions


async def test_quick_exit_after_a_restart_still_deletes_what_came_before(
    fake: FakeTelegram, start: Callable[..., Any]
) -> None:
    first = await start()
    await open_domestic_abuse(fake, 14)
    before = set(fake.messages[14])
    await first.channel.stop()  # a deployment: the new process knows nothing in memory
    kept = first.store.message_ids
    assert len(kept) == 1 and {mid for _at, mid in next(iter(kept.values()))} == before
    again = await start(store=first.store)
    deleted = await quick_exit(fake, 14)
    assert deleted == before | {max(before) + 1}  # everything before the restart, and /exit
    await again.channel.stop()
    # Only the "Cleared" message is left to delete, should the person press quick exit again.
    assert [len(ids) for ids in again.store.message_ids.values()] == [1]


async def test_message_ids_are_kept_with_the_turn_so_a_crash_loses_none(
    fake: FakeTelegram, start: Callable[..., Any]
) -> None:
    running = await start()
    await open_domestic_abuse(fake, 16)

    # No stop and no timer: once the turn is done, a kill -9 would leave every id for quick exit.
    def kept() -> set[int]:
        return {mid for ids in running.store.message_ids.values() for _at, mid in ids}

    await fake.wait_for(lambda: kept() == set(fake.messages[16]), timeout=2)


async def test_forget_me_keeps_no_message_ids(
    fake: FakeTelegram, start: Callable[..., Any]
) -> None:
    running = await start()
    fake.user_message(15, "/start")
    await replies_to(fake, 15, 1)
    await fake.wait_for(lambda: bool(running.store.message_ids), timeout=2)  # with the turn
    fake.user_message(15, "/forget")
    await replies_to(fake, 15, 2)
    fake.user_press(15, "act:forget_confirmed")
    await replies_to(fake, 15, 3)
    await running.channel.stop()
    assert not running.store.message_ids
    assert not running.store.sessions


async def test_the_quick_exit_button_on_a_sensitive_screen(
    fake: FakeTelegram, start: Callable[..., Any]
) -> None:
    await start()
    [_menu, _help, topic] = await open_domestic_abuse(fake, 14)
    assert ("🚪 Quick exit", "act:exit") in buttons(topic)
    fake.user_press(14, "act:exit")
    await replies_to(fake, 14, 4)
    assert [m["text"] for m in fake.messages[14].values()] == [
        "Cleared. Send any message to start again."
    ]


async def test_the_report_form_offers_the_share_location_button(
    fake: FakeTelegram, start: Callable[..., Any]
) -> None:
    running = await start()
    fake.user_message(15, "/start")
    await replies_to(fake, 15, 1)
    await running.channel.conversations.feed("telegram", "15", Inbound.choice("report.form"))
    fake.user_message(15, "people dealing drugs on the stairs every evening")
    sent = await replies_to(fake, 15, 3)
    keyboard = sent[-1]["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_location"] is True
    assert keyboard[0][0]["text"] == "📍 Share my location"
    fake.user_update(
        {
            "message": {
                "chat": {"id": 15, "type": "private"},
                "from": {"id": 15, "is_bot": False, "first_name": "R"},
                "location": {"latitude": 51.5203, "longitude": -0.2105},
            }
        }
    )
    await replies_to(fake, 15, 4)
    conv = running.channel.conversations
    [(_at, answers)] = conv._drafts.values()  # kept in memory only, until Send
    assert answers["where"] == "51.5203, -0.2105"
    assert answers["in_borough"] == "yes"


async def test_stale_or_forged_buttons_get_a_kind_answer_and_the_menu(
    fake: FakeTelegram, start: Callable[..., Any]
) -> None:
    await start()
    fake.user_message(16, "/start")
    [menu] = await replies_to(fake, 16, 1)
    update = fake.user_press(16, "help", enqueue=False)
    update["callback_query"]["data"] = "svc:no-such-service"
    fake.user_update(update)
    sent = await replies_to(fake, 16, 2)
    assert sent[1]["text"] == "Sorry, that button no longer works. Here is the main menu."
    assert buttons(sent[1]) == buttons(menu)


@pytest.mark.parametrize(
    ("media", "answer"),
    [
        ({"sticker": {"file_id": "s", "file_unique_id": "s1", "type": "regular", "width": 512,
                      "height": 512, "is_animated": False, "is_video": False}},
         "Sorry, I can only read text and button presses here."),
        ({"photo": [{"file_id": "p", "file_unique_id": "p1", "width": 90, "height": 90}]},
         "Sorry, I can only read text and button presses here."),
        ({"voice": {"file_id": "v", "file_unique_id": "v1", "duration": 3}},
         "Sorry, I can only read text and button presses here."),
    ],
)  # fmt: skip
async def test_stickers_photos_and_voice_notes_get_a_polite_answer(
    fake: FakeTelegram, start: Callable[..., Any], media: JSON, answer: str
) -> None:
    await start()
    fake.user_message(17, "/start")
    [menu] = await replies_to(fake, 17, 1)
    chat = {"id": 17, "type": "private"}
    person = {"id": 17, "is_bot": False, "first_name": "R", "language_code": "en"}
    fake.user_update({"message": {"chat": chat, "from": person, **media}})
    sent = await replies_to(fake, 17, 2)
    assert sent[1]["text"] == answer
    assert buttons(sent[1]) == buttons(menu)  # and they can carry on where they were


async def test_an_edited_message_is_asked_for_again(
    fake: FakeTelegram, start: Callable[..., Any]
) -> None:
    await start()
    first = fake.user_message(18, "noisy neigbours")
    await replies_to(fake, 18, 1)
    edited = {**first["message"], "text": "noisy neighbours", "edit_date": 1}
    fake.user_update({"edited_message": edited})
    sent = await replies_to(fake, 18, 2)
    assert sent[1]["text"].startswith("I can't see changes to a message.")


async def test_only_private_chats_are_answered(
    fake: FakeTelegram, start: Callable[..., Any]
) -> None:
    await start()
    fake.user_message(-100200, "/start", chat_type="group")
    fake.user_message(19, "/start")
    await replies_to(fake, 19, 1)
    await asyncio.sleep(0.05)
    assert fake.sent(-100200) == []


async def test_rate_limits_and_server_errors_are_waited_out(
    fake: FakeTelegram, start: Callable[..., Any], engine: Engine
) -> None:
    await start()
    fake.fail("sendMessage", 429, retry_after=1)
    fake.fail("sendMessage", 502, times=2)
    fake.user_message(20, "/start")
    [menu] = await replies_to(fake, 20, 1)
    [want] = expected(engine, "en", Inbound.command("start"))
    assert menu["text"] == to_html(want.text)
    statuses = [c.status for c in fake.calls if c.method == "sendMessage"]
    assert statuses == [429, 502, 502, 200]


async def test_one_persons_updates_are_answered_in_order_while_others_run_alongside(
    fake: FakeTelegram, start: Callable[..., Any], engine: Engine
) -> None:
    await start()
    fake.delay = 0.005  # slow answers make races show
    steps = ["/help", "/privacy", "/language", "/help", "/privacy", "/language"] * 2
    people = range(300, 312)
    for step in steps:
        for person in people:
            fake.user_message(person, step)
    chat = Chat(engine, "en")
    want = [to_html(chat.command(step[1:])[0].text) for step in steps]
    for person in people:
        await fake.wait_for(lambda p=person: len(fake.sent(p)) >= len(steps), timeout=20)  # type: ignore[misc]
        assert fake.texts(person) == want, person


async def test_a_new_report_is_posted_to_the_staff_chat_without_contact_details(
    fake: FakeTelegram, start: Callable[..., Any]
) -> None:
    running = await start(staff_chat_id=-500)
    conv = running.channel.conversations
    for step in (
        Inbound.choice("lang:en"),
        Inbound.choice("report.form"),
        Inbound.message("drug dealing in the stairwell"),
        Inbound.message("Golborne Road W10"),
    ):
        await conv.feed("telegram", "21", step)
    key = conv.key("telegram", "21")
    for _ in range(10):  # answer the remaining questions with their first button
        if running.store.sessions[key].node == "report.form.confirm":
            break
        await conv.feed("telegram", "21", Inbound.message("1"))
    await conv.feed("telegram", "21", Inbound.choice("act:file_report"))
    [report] = running.store.reports()
    [post] = await replies_to(fake, -500, 1)
    assert report.reference in post["text"]
    assert "drug dealing in the stairwell" in post["text"]
    assert running.store.filed[0][1] is None  # anonymous: no user key


async def test_a_report_with_markup_and_long_answers_reaches_staff_as_typed(
    fake: FakeTelegram, start: Callable[..., Any]
) -> None:
    running = await start(staff_chat_id=-500)
    conv = running.channel.conversations
    # Answers are kept to 500 characters; escaped, these two become over 4,096 together.
    what = "<b>Tom & Jerry</b> " + "&" * 470
    where = "Golborne Road W10 & the <i>park</i> " + "&" * 450
    for step in (
        Inbound.choice("lang:en"),
        Inbound.choice("report.form"),
        Inbound.message(what),
        Inbound.message(where),
    ):
        await conv.feed("telegram", "22", step)
    key = conv.key("telegram", "22")
    for _ in range(10):
        if running.store.sessions[key].node == "report.form.confirm":
            break
        await conv.feed("telegram", "22", Inbound.message("1"))
    await conv.feed("telegram", "22", Inbound.choice("act:file_report"))
    [report] = running.store.reports()
    posts = await replies_to(fake, -500, 2)
    assert all(p["parse_mode"] == "HTML" and len(p["text"]) <= 4096 for p in posts)
    # What staff read, once Telegram has parsed the HTML (the fake checks it as Telegram does).
    read = [render(p["text"], p["parse_mode"], 4096, "empty") for p in posts]
    shown = "\n".join(read)
    assert report.reference in read[0] and read[0].startswith("New report")
    assert "<b>Tom & Jerry</b>" in shown and "&lt;" not in shown  # as typed, not as markup
    assert "Golborne Road W10 & the <i>park</i>" in shown
    assert shown.count("&") >= 920


async def test_staff_commands_work_only_in_the_staff_chat(
    fake: FakeTelegram, start: Callable[..., Any]
) -> None:
    await start(staff_chat_id=-500)
    fake.user_message(-500, "/stats", chat_type="group")
    [stats] = await replies_to(fake, -500, 1)
    assert stats["text"] == "No activity recorded yet."
    fake.user_message(22, "/stats")
    [private] = await replies_to(fake, 22, 1)
    assert private["text"].startswith("Sorry, I don't know that command.")


# Webhook mode: the project's own web server receives the updates.
def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
async def webhook(
    fake: FakeTelegram, start: Callable[..., Any]
) -> AsyncIterator[tuple[httpx.AsyncClient, Running]]:
    running = await start(telegram_webhook_url="https://bot.example.org/webhooks/telegram")
    channel = running.channel
    app = create_app(running.store, telegram=channel)
    sock = free_socket()
    web = server(app, 0, "127.0.0.1")
    task = asyncio.create_task(web.serve(sockets=[sock]))
    while not web.started:
        await asyncio.sleep(0.01)
    port = sock.getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        yield client, running
    web.should_exit = True
    await task


async def test_webhook_is_set_with_a_secret_and_answers(
    fake: FakeTelegram, webhook: tuple[httpx.AsyncClient, Running]
) -> None:
    client, running = webhook
    secret = running.channel.webhook_secret
    assert fake.webhook_url == "https://bot.example.org/webhooks/telegram"
    assert fake.webhook_secret == secret and len(secret) >= 32
    # Telegram opens no more than this many calls at once: a flood queues at its end.
    assert (await running.channel.app.bot.get_webhook_info()).max_connections == 10
    update = fake.user_message(30, "/start", enqueue=False)
    answer = await client.post(
        "/webhooks/telegram", json=update, headers={TELEGRAM_SECRET_HEADER: secret}
    )
    assert answer.status_code == 200
    [menu] = await replies_to(fake, 30, 1)
    assert "999" in menu["text"]
    assert (await client.get("/healthz")).json() == {"status": "ok"}


@pytest.mark.parametrize("headers", [{}, {TELEGRAM_SECRET_HEADER: "wrong"}])
async def test_webhook_refuses_a_missing_or_wrong_secret(
    fake: FakeTelegram, webhook: tuple[httpx.AsyncClient, Running], headers: dict[str, str]
) -> None:
    client, _running = webhook
    update = fake.user_message(31, "/start", enqueue=False)
    answer = await client.post("/webhooks/telegram", json=update, headers=headers)
    assert answer.status_code == 403
    await asyncio.sleep(0.1)
    assert fake.sent(31) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"message": {"text": "/start"}}', 400),  # no update_id
        (b"[1, 2]", 400),
        (b"\xff\xfe", 400),
        (b" " * (MAX_BODY + 1), 413),
    ],
)
async def test_webhook_refuses_a_bad_body_with_the_right_secret(
    fake: FakeTelegram, webhook: tuple[httpx.AsyncClient, Running], body: bytes, status: int
) -> None:
    client, running = webhook
    headers = {TELEGRAM_SECRET_HEADER: running.channel.webhook_secret}
    answer = await client.post("/webhooks/telegram", content=body, headers=headers)
    assert answer.status_code == status
    assert (await client.get("/healthz")).json() == {"status": "ok"}  # and it carries on
    await asyncio.sleep(0.1)
    assert fake.sent() == []


async def test_webhook_redelivery_is_answered_once(
    fake: FakeTelegram, webhook: tuple[httpx.AsyncClient, Running]
) -> None:
    client, running = webhook
    headers = {TELEGRAM_SECRET_HEADER: running.channel.webhook_secret}
    update = fake.user_message(32, "/start", enqueue=False)
    for _ in range(3):
        assert (await client.post("/webhooks/telegram", json=update, headers=headers)).is_success
    await replies_to(fake, 32, 1)
    await asyncio.sleep(0.2)
    assert len(fake.sent(32)) == 1


async def test_the_bot_token_never_reaches_the_logs(
    fake: FakeTelegram, start: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    from bot.service.logs import configure_logging

    configure_logging()
    caplog.set_level(logging.INFO)
    await start()
    fake.user_message(40, "/start")
    await replies_to(fake, 40, 1)
    # (The fake server's own access log is not ours: the bot's web server keeps none.)
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("uvicorn"))
    assert fake.token.split(":")[1] not in ours
    assert "/start" not in ours
