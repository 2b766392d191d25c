"""The one web server: webhooks for the channels, and a health check."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from collections.abc import Callable, Iterator
from typing import Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.store import Store, StoreFull

log = logging.getLogger("bot.web")

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1_000_000  # an update is a few kilobytes; refuse anything absurd


class _Refused(Exception):
    """A request body refused before it was read whole: `status` says why."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def capped_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, read only up to `limit`: a declared or streamed excess is refused at once.

    Reading it whole first would let anyone, without a signature, make the process hold any
    amount of memory.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdecimal():
            raise _Refused(400)
        if int(declared) > limit:
            raise _Refused(413)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _Refused(413)
            chunks.append(chunk)
    except ClientDisconnect:
        log.info("a caller hung up before sending its whole request")
        raise _Refused(400) from None
    return b"".join(chunks)


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
) -> Starlette:
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
    if telegram is not None:
        hook = telegram

        async def telegram_webhook(request: Request) -> Response:
            given = request.headers.get(TELEGRAM_SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), hook.webhook_secret.encode()):
                return Response(status_code=403)
            try:
                body = await capped_body(request)
            except _Refused as refused:
                return Response(status_code=refused.status)
            try:
                data = json.loads(body)
            except ValueError:
                return Response(status_code=400)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                return Response(status_code=400)
            await hook.accept(data)
            return Response(status_code=200)

        routes.append(Route("/webhooks/telegram", telegram_webhook, methods=["POST"]))
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
                return Response(status_code=refused.status)
            answer, status = await wa.receive(body, request.headers.get(WHATSAPP_SIGNATURE_HEADER))
            return PlainTextResponse(answer, status_code=status)

        routes.append(Route("/webhooks/whatsapp", whatsapp_verify, methods=["GET"]))
        routes.append(Route("/webhooks/whatsapp", whatsapp_webhook, methods=["POST"]))
    return Starlette(routes=routes)


class Server(uvicorn.Server):
    """Uvicorn, leaving signals to the caller, which stops every channel in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Signals are handled by the runner."""
        yield


def server(app: Starlette, port: int, host: str = "0.0.0.0") -> Server:
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
        # Longer than a reverse proxy's or Telegram's idle connection (nginx keeps 60 s): a
        # caller reusing a connection just as we close it would see an error.
        timeout_keep_alive=75,
    )
    return Server(config)
