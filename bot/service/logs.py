"""Log lines for operators: plain or JSON, and scrubbed of anything that could identify a person."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"

# Defence in depth: our own messages carry no ids or words, but a library's might. Bot tokens
# (Telegram puts them in every URL), phone numbers and long ids are replaced before a line is
# written.
_TOKEN = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}")
_PHONE = re.compile(
    r"(?<![\w.])(?:\+|0)\d[\d ()-]{6,}\d(?![\w.])"
)  # +44 7700 900123, 020 7361 3002
_LONG_ID = re.compile(r"\b\d{7,}\b")

# A LogRecord's own attributes; anything else on a record came in through `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def scrub(text: str) -> str:
    """Text with bot tokens, phone numbers and long numeric ids masked."""
    text = _TOKEN.sub("[token]", text)
    text = _PHONE.sub("[phone]", text)
    return _LONG_ID.sub("[id]", text)  # chat ids, WhatsApp numbers without a plus


class TextFormatter(logging.Formatter):
    """`LEVEL logger: message`, scrubbed."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """The line, scrubbed."""
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the `extra=` fields; scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        """The line, scrubbed."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return scrub(json.dumps(line, ensure_ascii=False))


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever `sys.stderr` is when a line is written."""

    @property
    def stream(self) -> Any:
        """The current standard error (a test or a supervisor may have replaced it)."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


_handlers: list[logging.Handler] = []  # ours, replaced when configured again


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    """Our own messages at `level` on stderr; the HTTP client only when something is wrong."""
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    while _handlers:
        root.removeHandler(_handlers.pop())
    root.addHandler(handler)
    _handlers.append(handler)
    root.setLevel(level)
    # The HTTP client logs every request URL at INFO, and Telegram's URLs carry the bot token;
    # the channel libraries log whole updates (people's words) at DEBUG. Neither, even at DEBUG.
    for chatty in ("httpx", "httpcore", "aiohttp"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    for library in ("telegram", "pywa", "pywa_async", "uvicorn"):
        logging.getLogger(library).setLevel(max(logging.INFO, logging.getLevelName(level)))
