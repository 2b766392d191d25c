"""What the fake remote APIs share: an ASGI app served on a free port of 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, Self

import uvicorn

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


@dataclass(frozen=True)
class Stall:
    """A call held unanswered until its client gives up, as queued by a fake's stall()."""

    # True: the call takes effect at once and only its answer is held, like an answer lost on its
    # way back. False: it is held before it takes effect, and dropped if the client gives up, like
    # a request lost on its way in.
    effect: bool
    seconds: float  # the longest hold: a client still waiting then gets its answer, late


async def read_body(receive: Receive) -> bytes:
    """The whole request body."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def hold(receive: Receive, seconds: float) -> bool:
    """Wait until the client hangs up (its timeout passed) or `seconds` pass; True if it hung up."""
    # Call this only once the request body has been read: then uvicorn's receive() returns
    # nothing but the disconnect.
    try:
        async with asyncio.timeout(seconds):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        return False
    return True


class _Server(uvicorn.Server):
    """A uvicorn server that reports when it has started and leaves signal handlers alone."""

    def __init__(self, config: uvicorn.Config) -> None:
        """Set up the server and its events."""
        super().__init__(config)
        self.started_event = asyncio.Event()
        self.exit_event = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start serving, then set started_event."""
        await super().startup(sockets=sockets)
        self.started_event.set()

    async def main_loop(self) -> None:
        """Run until told to exit, without uvicorn's 0.1 s polling (which slows every stop)."""
        await self.on_tick(0)
        await self.exit_event.wait()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Do not take over SIGINT/SIGTERM: the test runner owns them."""
        yield


class LocalServer:
    """Serves `_asgi` on 127.0.0.1; `wait_for` wakes whenever a subclass calls `_wake`."""

    name = "fake server"

    def __init__(self) -> None:
        """Not serving yet; call start()."""
        self.url = ""
        self._tick = asyncio.Event()
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def _asgi(self, scope: Any, receive: Any, send: Any) -> None:
        """The application: each fake answers its API here."""
        raise NotImplementedError

    def summary(self, last: int = 40) -> str:
        """What the fake saw, for failure messages."""
        raise NotImplementedError

    async def start(self) -> None:
        """Serve on a free port of 127.0.0.1 and return once the server accepts connections."""
        if self._task is not None:
            raise RuntimeError(f"the {self.name} is already running")
        # proto must be IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted sockets
        # whose proto says TCP, and without it every answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._asgi,
            interface="asgi3",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=2,
            # Longer than any client keeps an idle connection, as real APIs do: with uvicorn's 5 s,
            # a client reusing a connection just as the server closes it gets a ReadError.
            timeout_keep_alive=120,
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        started = asyncio.create_task(self._server.started_event.wait())
        await asyncio.wait({self._task, started}, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            started.cancel()
            task, self._task = self._task, None
            sock.close()
            await task  # re-raise whatever stopped the server from starting
            raise RuntimeError(f"the {self.name} stopped before it started")
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Shut the server down."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        self._server.exit_event.set()
        task, self._task, self._server = self._task, None, None
        await task

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the server."""
        await self.stop()

    def _wake(self) -> None:
        """Wake everything waiting on the fake, which then re-checks its condition."""
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until predicate() is true; raise AssertionError with a summary of calls if not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"condition not met within {timeout}s\n{self.summary()}")
            # Wake on the next call; re-check anyway now and then, for predicates about state
            # outside the fake.
            tick = self._tick
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 0.05)):
                    await tick.wait()
