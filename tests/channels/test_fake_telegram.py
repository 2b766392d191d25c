"""The fake Bot API server, driven by the real python-telegram-bot Bot."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator

import httpx
import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    InvalidToken,
    NetworkError,
    RetryAfter,
)

from tests.fake_telegram import FakeTelegram

CHAT = 42


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    """A real PTB Bot pointed at the fake."""
    async with telegram.Bot(fake.token, base_url=fake.base_url) as tg_bot:
        yield tg_bot


def keyboard() -> InlineKeyboardMarkup:
    """Two buttons on one row."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes", callback_data="yes"),
                InlineKeyboardButton("No", callback_data="no"),
            ]
        ]
    )


async def test_get_me(fake: FakeTelegram, bot: telegram.Bot) -> None:
    me = await bot.get_me()
    assert me.id == 1
    assert me.is_bot
    assert me.username == "SaferKCBot"
    assert me.first_name == "Safer K&C"
    assert fake.calls[0].method == "getMe"
    assert fake.url.startswith("http://127.0.0.1:")
    assert fake.base_url == f"{fake.url}/bot"


async def test_send_message_records_text_and_keyboard(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    message = await bot.send_message(
        CHAT, "<b>Hello</b> &amp; welcome", parse_mode="HTML", reply_markup=keyboard()
    )
    assert message.chat.id == CHAT
    assert message.from_user is not None and message.from_user.is_bot
    assert message.text == "Hello & welcome"
    assert message.reply_markup == keyboard()

    [params] = fake.sent(CHAT)
    assert params["chat_id"] == CHAT
    assert params["text"] == "<b>Hello</b> &amp; welcome"
    assert params["parse_mode"] == "HTML"
    assert params["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]
        ]
    }
    assert fake.messages[CHAT][message.message_id]["reply_markup"] == params["reply_markup"]
    assert fake.sent(CHAT + 1) == []

    # Strings are never JSON-decoded, however they look.
    await bot.send_message(CHAT, "123")
    assert fake.sent(CHAT)[-1]["text"] == "123"


async def test_bad_html_and_button_urls_are_refused(fake: FakeTelegram, bot: telegram.Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: unsupported start tag"):
        await bot.send_message(CHAT, "a <br> b", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)unsupported url protocol"):
        await bot.send_message(
            CHAT,
            "call",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("999", url="tel:999")]]),
        )
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    assert fake.sent() == []
    assert [call.status for call in fake.calls] == [200, 400, 400, 400]  # getMe first


async def test_delete_messages(fake: FakeTelegram, bot: telegram.Bot) -> None:
    ids = [(await bot.send_message(CHAT, f"m{i}")).message_id for i in range(3)]
    assert ids == [1, 2, 3]
    assert await bot.delete_messages(CHAT, [*ids[:2], 99])
    assert list(fake.messages[CHAT]) == [3]
    assert fake.calls[-1].params == {"chat_id": CHAT, "message_ids": [1, 2, 99]}

    assert await bot.delete_message(CHAT, 3)
    with pytest.raises(BadRequest, match=r"^Message to delete not found$"):
        await bot.delete_message(CHAT, 3)
    with pytest.raises(BadRequest):
        await bot.delete_messages(CHAT, list(range(1, 102)))


async def test_429_surfaces_as_retry_after(fake: FakeTelegram, bot: telegram.Bot) -> None:
    fake.fail("sendMessage", 429, retry_after=1)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "hi")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    assert fake.sent() == []
    await bot.send_message(CHAT, "hi")  # only the next call failed
    assert [p["text"] for p in fake.sent(CHAT)] == ["hi"]
    assert [c.status for c in fake.calls if c.method == "sendMessage"] == [429, 200]


async def test_502_surfaces_as_network_error(fake: FakeTelegram, bot: telegram.Bot) -> None:
    fake.fail("sendMessage", 502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway") as caught:
            await bot.send_message(CHAT, "hi")
        assert type(caught.value) is NetworkError
    await bot.send_message(CHAT, "hi")
    assert len(fake.sent()) == 1


async def test_get_updates_returns_user_message(fake: FakeTelegram, bot: telegram.Bot) -> None:
    update = fake.user_message(CHAT, "/start vawg", language_code="fr")
    [got] = await bot.get_updates(timeout=0)
    assert got.update_id == update["update_id"]
    assert got.message is not None
    assert got.message.text == "/start vawg"
    assert got.message.chat.id == CHAT
    assert got.message.from_user is not None
    assert got.message.from_user.language_code == "fr"
    assert got.message.from_user.first_name == "Resident"
    assert got.message.parse_entities() == {got.message.entities[0]: "/start"}
    assert fake.messages[CHAT][got.message.message_id]["text"] == "/start vawg"

    # Not confirmed yet: asked again, it comes again; an offset past it confirms it.
    assert len(await bot.get_updates(timeout=0)) == 1
    assert await bot.get_updates(offset=got.update_id + 1, timeout=0) == ()
    assert fake.pending_updates == []


async def test_long_poll_waits_for_an_update(fake: FakeTelegram, bot: telegram.Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for(lambda: any(c.method == "getUpdates" for c in fake.calls))
    assert not poll.done()
    fake.user_message(CHAT, "hello")
    [got] = await asyncio.wait_for(poll, 2)
    assert got.message is not None and got.message.text == "hello"

    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (
        await bot.get_updates(offset=got.update_id + 1, timeout=dtm.timedelta(milliseconds=200))
        == ()
    )
    assert loop.time() - started >= 0.19


async def test_press_and_edit(fake: FakeTelegram, bot: telegram.Bot) -> None:
    sent = await bot.send_message(CHAT, "Sure?", reply_markup=keyboard())
    update = fake.user_press(CHAT, "no")
    [got] = await bot.get_updates(timeout=0)
    query = got.callback_query
    assert query is not None and query.data == "no" and query.id == update["callback_query"]["id"]
    assert query.message is not None and query.message.message_id == sent.message_id
    assert await query.answer()

    edited = await bot.edit_message_text("OK", chat_id=CHAT, message_id=sent.message_id)
    assert isinstance(edited, telegram.Message)
    assert edited.text == "OK" and edited.reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("OK", chat_id=CHAT, message_id=sent.message_id)
    with pytest.raises(ValueError, match="no bot message with an inline keyboard"):
        fake.user_press(CHAT, "yes")


async def test_commands_webhook_and_errors(fake: FakeTelegram, bot: telegram.Bot) -> None:
    await bot.set_my_commands([("start", "Start again")], language_code="fr")
    assert fake.commands == {"fr": [{"command": "start", "description": "Start again"}]}
    assert [c.command for c in await bot.get_my_commands(language_code="fr")] == ["start"]
    assert await bot.get_my_commands() == ()
    # PTB strips "Bad Request: " and str.capitalize()s the rest: "BOT_COMMAND_INVALID" arrives
    # as "Bot_command_invalid".
    with pytest.raises(BadRequest, match=r"^Bot_command_invalid$"):
        await bot.set_my_commands([("Start", "x")])

    await bot.set_webhook("http://127.0.0.1:1/hook", secret_token="s3cret")
    assert (fake.webhook_url, fake.webhook_secret) == ("http://127.0.0.1:1/hook", "s3cret")
    assert (await bot.get_webhook_info()).url == "http://127.0.0.1:1/hook"
    with pytest.raises(Conflict):
        await bot.get_updates(timeout=0)
    assert await bot.delete_webhook()
    assert await bot.send_chat_action(CHAT, "typing")

    async with httpx.AsyncClient() as client:
        unknown = await client.post(f"{fake.base_url}{fake.token}/sendDice", data={"chat_id": "1"})
        wrong = await client.post(f"{fake.base_url}0:WRONG/getMe")
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert wrong.status_code == 401
    # PTB maps both 401 and 404 to InvalidToken; do_api_request turns a 404 into EndPointNotFound.
    with pytest.raises(InvalidToken, match="Not Found"):
        await bot.send_dice(CHAT)
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with telegram.Bot("0:WRONG", base_url=fake.base_url):  # initialize() calls getMe
            pass


async def test_wait_for_reports_calls(fake: FakeTelegram, bot: telegram.Bot) -> None:
    await bot.send_message(CHAT, "hi")
    with pytest.raises(AssertionError, match="sendMessage"):
        await fake.wait_for(lambda: False, timeout=0.1)
