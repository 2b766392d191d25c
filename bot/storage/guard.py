"""SQLite's own errors turned into the store's, so callers catch StoreUnavailable alone."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from bot.storage.store import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")


def unavailable(method: Callable[P, R]) -> Callable[P, R]:
    """The method, raising StoreUnavailable where SQLite raised its own error."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            # The class name only ("OperationalError"): SQLite's words may quote a value.
            raise StoreUnavailable(type(exc).__name__) from exc

    return wrapper
