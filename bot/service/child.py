"""The engine process's side of the pipe: load the content, then answer each turn from stdin."""

from __future__ import annotations

import logging
import pickle
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from bot.content.loader import load_content
from bot.core.engine import Engine
from bot.core.reports import Report
from bot.core.types import Reply
from bot.service.conversation import Conversations
from bot.service.logs import configure_logging
from bot.service.worker import HEADER, READY, Request, frame
from bot.storage.sqlite import SqliteStore
from bot.storage.store import load_secret

log = logging.getLogger("bot.service.child")


def serve(db_path: Path, data_dir: Path, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """The child's loop: answer each turn read from stdin until it closes."""
    store = SqliteStore(db_path)
    try:
        engine = Engine(load_content())
        engine.warm()
        conversations = Conversations(engine, store, load_secret(data_dir))
        filed: list[Report] = []
        conversations.report_listeners.append(filed.append)
        stdout.write(frame(READY))
        stdout.flush()
        while header := stdin.read(HEADER.size):
            (size,) = HEADER.unpack(header)
            request: Request = pickle.loads(stdin.read(size))
            seq, channel, user_id, inbound, update_id = request
            replies: list[Reply] | None
            try:
                replies = conversations.handle(channel, user_id, inbound, update_id)
            except Exception:
                # A database fault, say: the parent apologises; no words or ids in the log.
                log.exception("turn failed", extra={"channel": channel})
                replies = None
            report = filed.pop() if filed else None
            filed.clear()
            stdout.write(frame((seq, replies, report)))
            stdout.flush()
    finally:
        store.close()
    return 0


def main(argv: Sequence[str]) -> int:
    """`python -m bot.service.child DB DATA_DIR LOG_FORMAT LOG_LEVEL`, started by `bot run`."""

    db, data, log_format, log_level = argv
    configure_logging(log_format, log_level)
    # Ctrl-C reaches the whole process group; the parent decides when this process stops.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    return serve(Path(db), Path(data), sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
