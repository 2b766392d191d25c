"""The one web server: webhooks for the channels, and a health check."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.store import Store

log = logging.getLogger("bot.web")

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1_000_000  # an update is a few kilobytes; refuse anything absurd

Accept = Callable[[Any], Awaitable[None]]


def create_app(
    store: Store,
    telegram: tuple[str, Accept] | None = None,
    extra: list[Route] | None = None,
) -> Starlette:
    """`/healthz`, and `/webhooks/telegram` when Telegram uses a webhook: (secret, accept)."""

    async def healthz(_request: Request) -> Response:
        try:
            store.ping()
        except Exception as exc:
            log.error("health check failed: %s", type(exc).__name__)
            return JSONResponse({"status": "error", "database": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if telegram is not None:
        secret, accept = telegram

        async def telegram_webhook(request: Request) -> Response:
            given = request.headers.get(TELEGRAM_SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), secret.encode()):
                return Response(status_code=403)
            body = await request.body()
            if len(body) > MAX_BODY:
                return Response(status_code=413)
            try:
                data = json.loads(body)
            except ValueError:
                return Response(status_code=400)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                return Response(status_code=400)
            await accept(data)
            return Response(status_code=200)

        routes.append(Route("/webhooks/telegram", telegram_webhook, methods=["POST"]))
    routes.extend(extra or [])
    return Starlette(routes=routes)


class Server(uvicorn.Server):
    """Uvicorn, leaving signals to the caller, which stops every channel in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Signals are handled by the runner."""
        yield


def server(app: Starlette, port: int, host: str = "0.0.0.0") -> Server:
    """A quiet server: no access log, because URLs and addresses say who talked to us."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    return Server(config)
