"""The one web server: webhooks for the channels, and a health check."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.channels.server import HeaderLimit
from bot.storage.store import StoreFull, Upkeep

log = logging.getLogger("bot.channels.web")

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_KEY = TELEGRAM_SECRET_HEADER.lower().encode()  # as ASGI gives header names
TELEGRAM_PATH = "/webhooks/telegram"
MAX_BODY = 1_000_000  # an update is a few kilobytes; refuse anything absurd
BODY_TIMEOUT = 20.0  # seconds for a request's body to arrive whole
CLOSE = {"Connection": "close"}  # on a refusal: the rest of that request is not worth reading
EMPTY = [(b"content-length", b"0")]
CLOSING = [*EMPTY, (b"connection", b"close")]


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
    store: Upkeep,
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
