"""The Bot API client on aiohttp: what reaches the server, timeouts, failures, no token told."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import telegram
from aiohttp import BodyPartReader, web
from telegram.error import NetworkError, TimedOut

from bot.channels.telegram.http import AiohttpRequest, env_proxy

TOKEN = "777:SECRET-TOKEN"
ME = {"id": 777, "is_bot": True, "first_name": "Safer K&C", "username": "saferkc_bot"}
SENT = {"message_id": 9, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi"}


@dataclass
class Seen:
    """What the little Bot API server was sent."""

    methods: list[str] = field(default_factory=list)
    fields: list[dict[str, str]] = field(default_factory=list)
    files: list[tuple[str, str | None, str | None, bytes]] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    stall: float = 0.0


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Seen]]:
    """A Bot API stand-in on 127.0.0.1: getMe, and one sent message for every other call."""
    seen = Seen()

    async def answer(request: web.Request) -> web.Response:
        if request.match_info["method"] == "getMe":
            return web.json_response({"ok": True, "result": ME})
        seen.methods.append(request.match_info["method"])
        seen.agents.append(request.headers.get("User-Agent", ""))
        fields: dict[str, str] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                assert isinstance(part, BodyPartReader)
                if part.filename is None:
                    fields[part.name or ""] = await part.text()
                else:
                    content = await part.read()
                    kind = part.headers.get("Content-Type")
                    seen.files.append((part.name or "", part.filename, kind, bytes(content)))
        else:
            fields = {k: str(v) for k, v in (await request.post()).items()}
        seen.fields.append(fields)
        if seen.stall:
            await asyncio.sleep(seen.stall)
        return web.json_response({"ok": True, "result": SENT})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/bot", seen
    finally:
        await runner.cleanup()


async def test_a_message_with_buttons_arrives_as_the_bot_api_expects(
    server: tuple[str, Seen],
) -> None:
    url, seen = server
    markup = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("Help", callback_data="t:help")]]
    )
    async with telegram.Bot(TOKEN, base_url=url, request=AiohttpRequest()) as bot:
        sent = await bot.send_message(5, "<b>999</b> first", parse_mode="HTML", reply_markup=markup)
    assert sent.message_id == 9
    assert seen.methods[-1] == "sendMessage"
    last = seen.fields[-1]
    assert last["chat_id"] == "5" and last["text"] == "<b>999</b> first"
    assert last["parse_mode"] == "HTML" and '"callback_data": "t:help"' in last["reply_markup"]
    assert "python-telegram-bot" in seen.agents[-1]


async def test_a_file_is_uploaded_as_multipart_with_its_name_and_type(
    server: tuple[str, Seen],
) -> None:
    url, seen = server
    png = b"\x89PNG\r\n\x1a\n poster"
    async with telegram.Bot(TOKEN, base_url=url, request=AiohttpRequest()) as bot:
        await bot.send_document(5, png, filename="vawg.png", caption="Scan me")
    assert seen.methods[-1] == "sendDocument"
    assert seen.fields[-1]["caption"] == "Scan me" and seen.fields[-1]["chat_id"] == "5"
    ((name, filename, kind, content),) = seen.files
    assert (name, filename, kind, content) == ("document", "vawg.png", "image/png", png)


async def test_a_slow_answer_times_out_as_telegram_timed_out(server: tuple[str, Seen]) -> None:
    url, seen = server
    seen.stall = 2.0
    async with telegram.Bot(TOKEN, base_url=url, request=AiohttpRequest(read_timeout=0.3)) as bot:
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimedOut):
            await bot.send_message(5, "hello")
        assert asyncio.get_running_loop().time() - started < 1.5


async def test_an_unreachable_server_is_a_network_error_that_never_names_the_token() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    bot = telegram.Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=AiohttpRequest())
    await bot.request.initialize()
    try:
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(5, "hello")
        assert not isinstance(caught.value, TimedOut)
        # The token's whole id part, not its digits alone: the free port may hold a 777 too.
        assert "SECRET" not in str(caught.value) and "777:" not in str(caught.value)
    finally:
        await bot.request.shutdown()


async def test_calls_before_initialize_or_after_shutdown_are_refused() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/botX/getMe", "POST")
    await request.initialize()
    await request.shutdown()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/botX/getMe", "POST")


async def test_the_proxy_the_environment_names_carries_the_calls(
    server: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = server
    proxy = url.removesuffix("/bot")  # the little server stands in for the council's proxy
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    # A host that does not exist: only the proxy can answer for it.
    base = "http://api.telegram.invalid/bot"
    async with telegram.Bot(TOKEN, base_url=base, request=AiohttpRequest()) as bot:
        await bot.send_message(5, "through the proxy")
    assert seen.fields[-1]["text"] == "through the proxy"


def test_no_proxy_exempts_a_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.council.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    assert env_proxy("https://api.telegram.org/bot1:x/getMe") == "http://proxy.council.example:3128"
    assert env_proxy("https://127.0.0.1:8081/bot1:x/getMe") is None
