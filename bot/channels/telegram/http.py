"""python-telegram-bot's HTTP client on aiohttp: the same calls for half the CPU of httpx."""

from __future__ import annotations

import re
import ssl
import urllib.request
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, RequestData

# Telegram's URLs carry the bot token (/bot<token>/method); error messages must not.
_TOKEN_PATH = re.compile(r"/bot[^/\s]+")

# PTB's own defaults for HTTPXRequest, in seconds.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0
MEDIA_WRITE_TIMEOUT = 20.0


def _given(value: ODVInput[float], default: float | None) -> float | None:
    """A per-call timeout, or this client's default where the call left it unset."""
    return default if isinstance(value, DefaultValue) else value


def env_proxy(url: str) -> str | None:
    """The proxy HTTPS_PROXY / HTTP_PROXY name for this URL, unless NO_PROXY exempts its host."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


class AiohttpRequest(BaseRequest):
    """Sends the Bot API's calls through one aiohttp session with a bounded connection pool."""

    def __init__(
        self,
        connection_pool_size: int = 16,
        connect_timeout: float | None = CONNECT_TIMEOUT,
        read_timeout: float | None = READ_TIMEOUT,
        write_timeout: float | None = WRITE_TIMEOUT,
        pool_timeout: float | None = POOL_TIMEOUT,
        media_write_timeout: float | None = MEDIA_WRITE_TIMEOUT,
    ) -> None:
        self._pool_size = connection_pool_size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}  # by scheme and host

    @property
    def read_timeout(self) -> float | None:
        """How long to wait for Telegram's answer when a call does not say."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (it must be made inside the running event loop)."""
        if self._session is None or self._session.closed:
            # certifi's roots, as httpx uses: a slim container may have no system CA bundle.
            tls = ssl.create_default_context(cafile=certifi.where())
            connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=tls)
            # The proxy comes from env_proxy, once per host: aiohttp's trust_env would also read
            # ~/.netrc in a thread on every call.
            self._session = aiohttp.ClientSession(connector=connector)
            self._proxies.clear()

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One call: the HTTP status and the body, or PTB's TimedOut / NetworkError."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data and request_data.contains_files else {}
        fields = request_data.json_parameters if request_data else {}
        data: Any = fields
        if files:
            form = aiohttp.FormData()
            for name, value in fields.items():
                form.add_field(name, value)
            for name, part in files.items():
                filename, content, mimetype = (
                    part if isinstance(part, tuple) else (name, part, None)
                )
                form.add_field(name, content, filename=filename, content_type=mimetype)
            data = form
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        write_default = self._media_write_timeout if files else self._write_timeout
        write = _given(write_timeout, write_default)
        timeout = aiohttp.ClientTimeout(
            # aiohttp's `connect` covers waiting for a free connection as well as opening one.
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=_given(read_timeout, self._read_timeout),
            # aiohttp has no write timeout of its own; the upload must at least end in time.
            total=None if write is None or not files else write + (connect or 0.0),
        )
        headers = {"User-Agent": self.USER_AGENT}
        parts = urlsplit(url)
        where = (parts.scheme, parts.netloc)
        if where not in self._proxies:
            self._proxies[where] = env_proxy(url)
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout, proxy=self._proxies[where]
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:  # aiohttp's timeouts are TimeoutErrors
            raise TimedOut from err
        except aiohttp.ClientError as err:
            said = _TOKEN_PATH.sub("/bot<token>", str(err))
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {said}") from err


def backoff(exc: Exception, attempt: int, pause: float) -> float | None:
    """Seconds to wait before trying a Bot API call again, or None when trying again is no use."""
    if isinstance(exc, RetryAfter):
        delay = exc.retry_after
        return float(delay.total_seconds() if isinstance(delay, timedelta) else delay)
    if isinstance(exc, BadRequest | Forbidden):
        return None  # our mistake or their choice: trying again will not help
    if isinstance(exc, NetworkError):  # a 5xx, a timeout or a dropped connection
        return pause * (1 << attempt)
    return None
