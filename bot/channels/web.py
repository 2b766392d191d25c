"""The one web server: webhooks for the channels, and a health check."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.storage.store import Store, StoreFull

log = logging.getLogger("bot.channels.web")

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_KEY = TELEGRAM_SECRET_HEADER.lower().encode()  # as ASGI gives header names
TELEGRAM_PATH = "/webhooks/telegram"
MAX_BODY = 1_000_000  # an update is a few kilobytes; refuse anything absurd
# Time limits, so slow or silent connections cannot pile up: for a request's headers (from the
# connection's first byte, or the next request's), for its body, and between requests.
HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 20.0
IDLE_TIMEOUT = 75.0  # longer than a proxy's or Telegram's (nginx keeps 60 s): see server()
MAX_HEADERS = 16 * 1024  # bytes of request line and headers
MAX_CONNECTIONS = 1000  # past this, new requests are answered 503 at once
CLOSE = {"Connection": "close"}  # on a refusal: the rest of that request is not worth reading
EMPTY = [(b"content-length", b"0")]
CLOSING = [*EMPTY, (b"connection", b"close")]
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


class _Refused(Exception):
    """A request body refused before it was read whole: `status` says why."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def read_body(receive: Receive, declared: str | None, limit: int = MAX_BODY) -> bytes:
    """The body, read only up to `limit`: a declared or streamed excess is refused at once.

    Reading it whole first would let anyone, without a signature, make the process hold any
    amount of memory. `declared` is the Content-Length header, if any.
    """
    if declared is not None:
        if not declared.isdecimal():
            raise _Refused(400)
        if int(declared) > limit:
            raise _Refused(413)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    log.info("a caller hung up before sending its whole request")
                    raise _Refused(400)
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _Refused(413)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError:
        log.info("a caller was too slow sending its request")
        raise _Refused(408) from None


async def capped_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """A Starlette request's body, read as read_body does."""
    return await read_body(request.receive, request.headers.get("content-length"), limit)


WHATSAPP_SIGNATURE_HEADER = "X-Hub-Signature-256"


class TelegramHook(Protocol):
    """What the web server needs of the Telegram channel."""

    @property
    def webhook_secret(self) -> str:
        """The secret Telegram sends back with every call."""

    async def accept(self, data: object) -> None:
        """Queue one update."""


class WhatsAppHook(Protocol):
    """What the web server needs of the WhatsApp channel."""

    async def verify(
        self, mode: str | None, token: str | None, challenge: str | None
    ) -> tuple[str, int]:
        """Meta's verification GET."""

    async def receive(self, body: bytes, signature: str | None) -> tuple[str, int]:
        """One signed POST."""


def create_app(
    store: Store,
    telegram: TelegramHook | None = None,
    whatsapp: WhatsAppHook | None = None,
    engine_alive: Callable[[], bool] | None = None,
) -> ASGIApp:
    """`/healthz`, and the webhook of each channel that uses one."""

    async def healthz(_request: Request) -> Response:
        try:
            store.ping()
        except StoreFull:
            log.error("health check failed: the disk is (almost) full")
            return JSONResponse({"status": "error", "database": "disk full"}, status_code=503)
        except Exception as exc:
            log.error("health check failed: %s", type(exc).__name__)
            return JSONResponse({"status": "error", "database": "unavailable"}, status_code=503)
        if engine_alive is not None and not engine_alive():
            # It is restarted on the next message; until then, say so.
            return JSONResponse({"status": "error", "engine": "not running"}, status_code=503)
        return JSONResponse({"status": "ok"})

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if whatsapp is not None:
        wa = whatsapp

        async def whatsapp_verify(request: Request) -> Response:
            q = request.query_params
            answer, status = await wa.verify(
                q.get("hub.mode"), q.get("hub.verify_token"), q.get("hub.challenge")
            )
            return PlainTextResponse(answer, status_code=status)

        async def whatsapp_webhook(request: Request) -> Response:
            try:
                body = await capped_body(request)
            except _Refused as refused:
                return Response(status_code=refused.status, headers=CLOSE)
            answer, status = await wa.receive(body, request.headers.get(WHATSAPP_SIGNATURE_HEADER))
            return PlainTextResponse(answer, status_code=status)

        routes.append(Route("/webhooks/whatsapp", whatsapp_verify, methods=["GET"]))
        routes.append(Route("/webhooks/whatsapp", whatsapp_webhook, methods=["POST"]))
    routed = Starlette(routes=routes)
    return HeaderLimit(Webhooks(routed, TelegramWebhook(telegram) if telegram else None))


class TelegramWebhook:
    """Telegram's webhook as a bare ASGI app, before any router or middleware.

    Every update comes this way, and in a flood each one that is turned away costs the event
    loop, which everyone's turns share, a third less than through Starlette.
    """

    def __init__(self, hook: TelegramHook) -> None:
        self.hook = hook

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one POST: 200 once the update is taken, or why not."""
        status, headers = await self._answer(scope, receive)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _answer(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, list[tuple[bytes, bytes]]]:
        given: bytes | None = None
        declared: str | None = None
        for name, value in scope["headers"]:
            if name == SECRET_KEY and given is None:
                given = value
            elif name == b"content-length" and declared is None:
                declared = value.decode("latin-1")
        if given is None or not hmac.compare_digest(given, self.hook.webhook_secret.encode()):
            return 403, EMPTY
        try:
            body = await read_body(receive, declared)
        except _Refused as refused:
            return refused.status, CLOSING
        try:
            data = json.loads(body)
        except ValueError:
            return 400, EMPTY
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return 400, EMPTY
        await self.hook.accept(data)
        return 200, EMPTY


class Webhooks:
    """The server's app: Telegram's webhook straight to its handler, the rest by route."""

    def __init__(self, routed: ASGIApp, telegram: TelegramWebhook | None) -> None:
        self.routed = routed
        self.telegram = telegram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch one request (or the server's start and stop) to where it is answered."""
        if (
            self.telegram is not None
            and scope["type"] == "http"
            and scope["path"] == TELEGRAM_PATH
            and scope["method"] == "POST"
        ):
            await self.telegram(scope, receive, send)
        else:
            await self.routed(scope, receive, send)


class HeaderLimit:
    """Refuses (431) a request whose headers pass MAX_HEADERS.

    GuardedHttp stops headers that arrive in pieces at that size; this catches those that came
    whole, in one read.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, unless its headers are too large."""
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > MAX_HEADERS:
                response = Response(status_code=431, headers=CLOSE)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class GuardedHttp(HttpToolsProtocol):
    """Uvicorn's HTTP/1.1 (httptools), with limits on how long and how large headers may be.

    Uvicorn closes idle connections between requests, but not one that never finishes (or
    never starts) sending a request: enough of those would use up every file descriptor. And
    httptools keeps a header's bytes until it ends, however many there are, so they are
    counted here as they arrive.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._head_bytes: int | None = 0  # bytes of the headers so far; None during a body
        self._events = 0  # headers or messages completed: where a chunk's bytes belong

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """A new connection: its first request's headers are due within HEADER_TIMEOUT."""
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Bytes in: headers are timed and counted until they are whole."""
        if self._head_bytes is not None and self._header_timer is None:
            self._arm()  # the first bytes of the next request on a kept-alive connection
        events = self._events
        super().data_received(data)
        if self._head_bytes is not None and self._events == events:
            # Every byte of this chunk was headers still unfinished.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEADERS and not self.transport.is_closing():
                self.transport.write(TOO_LARGE)
                self.transport.close()

    def on_headers_complete(self) -> None:
        """The headers are in: the body has its own limit."""
        self._head_bytes, self._events = None, self._events + 1
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The body is in: whatever comes next is the next request's headers."""
        self._head_bytes, self._events = 0, self._events + 1
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Gone: no timer left behind."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class Server(uvicorn.Server):
    """Uvicorn, leaving signals to the caller, which stops every channel in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Signals are handled by the runner."""
        yield


def server(app: ASGIApp, port: int, host: str = "0.0.0.0") -> Server:
    """A quiet server: no access log, because URLs and addresses say who talked to us."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        # No logging set-up of its own: uvicorn's lines and tracebacks reach our handler, so
        # they are JSON under LOG_FORMAT=json and scrubbed like every other line.
        log_config=None,
        access_log=False,
        # httptools parses in C: a flood of requests costs a third of what h11's pure Python
        # does, so one sender holds the event loop from everyone else for less.
        http=GuardedHttp,
        # Longer than a reverse proxy's or Telegram's idle connection (nginx keeps 60 s): a
        # caller reusing a connection just as we close it would see an error.
        timeout_keep_alive=int(IDLE_TIMEOUT),
        limit_concurrency=MAX_CONNECTIONS,
    )
    return Server(config)
