"""The web server under the webhooks: uvicorn with limits on slow, large and many connections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Time limits, so slow or silent connections cannot pile up: for a request's headers (from the
# connection's first byte, or the next request's), and between requests (the body's is in web).
HEADER_TIMEOUT = 10.0
IDLE_TIMEOUT = 75.0  # longer than a proxy's or Telegram's (nginx keeps 60 s): see server()
MAX_HEADERS = 16 * 1024  # bytes of request line and headers
MAX_CONNECTIONS = 1000  # past this, new requests are answered 503 at once
CLOSE = {"Connection": "close"}  # on a refusal: the rest of that request is not worth reading
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


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
