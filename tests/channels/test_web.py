"""The web server under abuse: bodies are capped before they are read, hang-ups are quiet."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.requests import Request

import bot.channels.server
import bot.channels.web
from bot.channels.web import MAX_BODY, _Refused, capped_body, create_app
from bot.storage.memory import MemoryStore

CHUNK = 64 * 1024


def request(
    headers: dict[str, str], messages: list[dict[str, object]] | None = None
) -> tuple[Request, list[int]]:
    """A request whose body arrives as `messages` (or endlessly, in 64 KB chunks)."""
    calls = [0]

    async def receive() -> dict[str, object]:
        calls[0] += 1
        if messages is None:
            return {"type": "http.request", "body": b"x" * CHUNK, "more_body": True}
        return messages.pop(0)

    scope = {
        "type": "http", "method": "POST", "path": "/webhooks/whatsapp",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    return Request(scope, receive), calls


async def test_a_declared_huge_body_is_refused_without_reading_it() -> None:
    req, calls = request({"content-length": str(100 * 1024 * 1024)})
    with pytest.raises(_Refused) as refused:
        await capped_body(req)
    assert refused.value.status == 413 and calls[0] == 0


async def test_an_endless_stream_is_cut_at_the_cap() -> None:
    req, calls = request({})  # chunked: no length declared
    with pytest.raises(_Refused) as refused:
        await capped_body(req)
    assert refused.value.status == 413
    assert calls[0] == MAX_BODY // CHUNK + 1  # read no further than the cap


async def test_a_caller_hanging_up_is_an_info_line(caplog: pytest.LogCaptureFixture) -> None:
    req, _calls = request({}, [{"type": "http.request", "body": b"{", "more_body": True},
                               {"type": "http.disconnect"}])  # fmt: skip
    with (
        caplog.at_level(logging.INFO, logger="bot.channels.web"),
        pytest.raises(_Refused) as refused,
    ):
        await capped_body(req)
    assert refused.value.status == 400
    [record] = [r for r in caplog.records if r.name == "bot.channels.web"]
    assert record.levelno == logging.INFO and "hung up" in record.getMessage()


async def test_an_ordinary_body_is_read_whole() -> None:
    req, _calls = request({"content-length": "7"}, [
        {"type": "http.request", "body": b"{\"a\"", "more_body": True},
        {"type": "http.request", "body": b":1}", "more_body": False},
    ])  # fmt: skip
    assert await capped_body(req) == b'{"a":1}'


class Hook:
    """A WhatsApp channel that records what reached it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def verify(
        self, mode: str | None, token: str | None, challenge: str | None
    ) -> tuple[str, int]:
        return "", 403

    async def receive(self, body: bytes, signature: str | None) -> tuple[str, int]:
        self.bodies.append(body)
        return "", 403


async def test_an_oversized_unsigned_post_never_reaches_the_channel() -> None:
    hook = Hook()
    app = create_app(MemoryStore(), whatsapp=hook)

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(10 * MAX_BODY // CHUNK):
            yield b"x" * CHUNK

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bot"
    ) as c:
        streamed = await c.post("/webhooks/whatsapp", content=endless())
        small = await c.post("/webhooks/whatsapp", content=b'{"object": "x"}')
    assert streamed.status_code == 413
    assert hook.bodies == [b'{"object": "x"}'] and small.status_code == 403


def test_the_servers_own_lines_go_through_the_scrubbing_json_formatter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from bot.channels.server import server
    from bot.service.logs import configure_logging

    configure_logging("json", "INFO")
    try:
        server(create_app(MemoryStore()), 0, "127.0.0.1")  # uvicorn sets up logging here
        uvicorn_log = logging.getLogger("uvicorn.error")
        assert uvicorn_log.handlers == [] and uvicorn_log.propagate
        try:
            raise RuntimeError("boom for +44 7700 900123")
        except RuntimeError:
            uvicorn_log.exception("Exception in ASGI application")
        [line] = [x for x in capsys.readouterr().err.splitlines() if "ASGI" in x]
        record = json.loads(line)
        assert record["logger"] == "uvicorn.error" and record["level"] == "ERROR"
        assert "RuntimeError" in record["error"] and "7700" not in line
    finally:
        configure_logging()


@contextlib.asynccontextmanager
async def serving(monkeypatch: pytest.MonkeyPatch, **limits: float) -> AsyncIterator[int]:
    """The real server (uvicorn, our protocol) on 127.0.0.1 with shorter time limits; its port."""
    for name, value in limits.items():
        module = bot.channels.web if hasattr(bot.channels.web, name) else bot.channels.server
        monkeypatch.setattr(module, name, value)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    web = bot.channels.server.server(create_app(MemoryStore(), whatsapp=Hook()), 0, "127.0.0.1")
    task = asyncio.create_task(web.serve(sockets=[sock]))
    while not web.started:
        await asyncio.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        web.should_exit = True
        await task


async def hang_up(writer: asyncio.StreamWriter) -> None:
    """Close our end and wait for it."""
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """What the server sends before it closes the connection, which it must within `seconds`."""
    try:
        return await asyncio.wait_for(reader.read(), seconds)
    except ConnectionResetError:
        # Closed with our last bytes still unread on its side: the kernel resets instead.
        return b""


async def test_a_connection_that_sends_nothing_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serving(monkeypatch, HEADER_TIMEOUT=0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await closed_within(reader, 3) == b""
        await hang_up(writer)


async def test_headers_sent_a_byte_at_a_time_are_cut_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serving(monkeypatch, HEADER_TIMEOUT=0.5) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = asyncio.get_running_loop().time()
        with contextlib.suppress(ConnectionError):
            for byte in b"POST /webhooks/whatsapp HTTP/1.1\r\nHost: bot\r\nX-Slow: " + b"a" * 60:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.02)
                if reader.at_eof():
                    break
        assert await closed_within(reader, 3) == b""
        assert asyncio.get_running_loop().time() - started < 2.5
        await hang_up(writer)


async def test_one_endless_header_sent_fast_is_refused_431_at_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serving(monkeypatch, HEADER_TIMEOUT=5.0) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent = 0
        with contextlib.suppress(ConnectionError):
            writer.write(b"POST /webhooks/whatsapp HTTP/1.1\r\nHost: bot\r\nX-Big: ")
            while sent < 2_000_000 and not reader.at_eof():
                writer.write(b"a" * 4096)
                await writer.drain()
                sent += 4096
                await asyncio.sleep(0.001)  # the server reads each piece on its own
        try:
            answer = await closed_within(reader, 3)
        except ConnectionError:
            answer = b"HTTP/1.1 431"  # closed on bytes still arriving: the answer can be lost
        assert answer.startswith(b"HTTP/1.1 431")
        assert sent < 1_000_000  # cut off near 16 KB, long before the header time limit
        await hang_up(writer)


async def test_a_body_that_stops_arriving_is_answered_408(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serving(monkeypatch, BODY_TIMEOUT=0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /webhooks/whatsapp HTTP/1.1\r\nHost: bot\r\nContent-Length: 500\r\n\r\n{"
        )
        await writer.drain()
        answer = await closed_within(reader, 3)  # answered, and the connection closed
        assert answer.startswith(b"HTTP/1.1 408")
        await hang_up(writer)


async def test_a_kept_alive_connection_still_works_and_huge_headers_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        serving(monkeypatch, HEADER_TIMEOUT=0.5) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        for _ in range(3):  # one connection, requests spaced past the header limit
            assert (await client.get("/healthz")).status_code == 200
            await asyncio.sleep(0.7)
        huge = await client.get("/healthz", headers={"X-Big": "a" * 20_000})
        assert huge.status_code == 431
