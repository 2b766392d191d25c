"""The engine in a child process: one core talks to Telegram and WhatsApp while another thinks.

`bot run` starts `python -m bot.service.child DB DATA_DIR LOG_FORMAT LOG_LEVEL` and sends it each
turn over its stdin; the child runs `Conversations.handle` (engine, SQLite, report drafts) and
writes the answer to its stdout.
Frames are a 4-byte length and a pickle; both ends are this program, so nothing else is trusted.
The child ignores SIGINT and SIGTERM: the parent finishes the turns in hand and then closes the
child's stdin, which is how the child knows to close its database and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import pickle
import struct
import sys
from pathlib import Path
from typing import Any

from bot.core.reports import Report
from bot.core.types import Inbound, Reply

log = logging.getLogger("bot.service.worker")

START_TIMEOUT = 120.0  # seconds for the child to load the content and build its indexes
TURN_TIMEOUT = 30.0  # seconds one turn may take before the child is presumed stuck
REVIVE_DELAY = 1.0  # seconds before restarting a child that died between turns
HEADER = struct.Struct(">I")
READY = "ready"

Request = tuple[int, str, str, Inbound, str | None]  # sequence, channel, user id, event, update id
Answer = tuple[int, list[Reply] | None, Report | None]  # replies are None when the turn failed


class WorkerError(RuntimeError):
    """The engine process could not start, died or hung."""


def frame(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


async def _read(stream: asyncio.StreamReader) -> Any:
    (size,) = HEADER.unpack(await stream.readexactly(HEADER.size))
    return pickle.loads(await stream.readexactly(size))


class EngineProcess:
    """Runs each turn in the child process; restarts it if it dies or hangs."""

    def __init__(
        self, db_path: Path, data_dir: Path, log_format: str = "text", log_level: str = "INFO"
    ) -> None:
        self._argv = [sys.executable, "-m", "bot.service.child", str(db_path), str(data_dir)]
        self._argv += [log_format, log_level]
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Answer]] = {}
        self._seq = itertools.count()
        self._starting = asyncio.Lock()
        self._reaping: set[asyncio.Task[int]] = set()
        self._closing = False
        self._reviving: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        """Whether the child is running and answering."""
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        """Start the child and wait until it has loaded the content."""
        proc = await asyncio.create_subprocess_exec(
            *self._argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )  # its stderr is ours, so its log lines join the parent's
        assert proc.stdout is not None
        try:
            first = await asyncio.wait_for(_read(proc.stdout), START_TIMEOUT)
        except (asyncio.IncompleteReadError, TimeoutError):
            first = None
        if first != READY:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise WorkerError("the engine process did not start (its messages are above)")
        self._proc = proc
        self._reader = asyncio.create_task(self._answers(proc.stdout))

    async def handle(
        self, channel: str, user_id: str, inbound: Inbound, update_id: str | None
    ) -> tuple[list[Reply], Report | None]:
        """One turn in the child: its replies, and the report it filed if any."""
        await self._ensure_started()
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        seq = next(self._seq)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[seq] = future
        try:
            proc.stdin.write(frame((seq, channel, user_id, inbound, update_id)))
            await proc.stdin.drain()
            _, replies, report = await asyncio.wait_for(future, TURN_TIMEOUT)
        except TimeoutError:
            self._discard(proc)  # stuck: the next turn starts a fresh one
            raise WorkerError("the engine process did not answer in time") from None
        except ConnectionError:
            raise WorkerError("the engine process has gone") from None
        finally:
            self._pending.pop(seq, None)
        if replies is None:
            raise WorkerError("the engine process could not answer this turn")
        return replies, report

    async def _ensure_started(self) -> None:
        if not self.alive:
            async with self._starting:
                if not self.alive:
                    log.warning("engine process restarting")
                    await self.start()

    async def _revive(self) -> None:
        """Restart a child that died between turns, so the health check recovers by itself."""
        await asyncio.sleep(REVIVE_DELAY)  # a child that dies at once must not spin
        if not self._closing:
            try:
                await self._ensure_started()
            except WorkerError as exc:
                log.error("%s", exc)  # the next turn tries again

    async def close(self) -> None:
        """Let the child finish, close its database and exit."""
        self._closing = True
        if self._reviving is not None:
            self._reviving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reviving
        proc, self._proc = self._proc, None
        if proc is not None and proc.stdin is not None:
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._reader is not None:
            await self._reader
        if self._reaping:
            await asyncio.wait(self._reaping)

    async def _answers(self, stdout: asyncio.StreamReader) -> None:
        """Hand each answer to whoever asked; fail everyone waiting when the child is gone."""
        try:
            while True:
                answer: Answer = await _read(stdout)
                future = self._pending.get(answer[0])
                if future is not None and not future.done():
                    future.set_result(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        for future in self._pending.values():
            if not future.done():
                future.set_exception(WorkerError("the engine process has gone"))
        if not self._closing:
            log.error("engine process stopped unexpectedly")
            self._reviving = asyncio.create_task(self._revive())

    def _discard(self, proc: asyncio.subprocess.Process) -> None:
        """Kill a child that stopped answering, and reap it in the background."""
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        if self._proc is proc:
            self._proc = None
        task = asyncio.ensure_future(proc.wait())
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)
