"""Cleaning what people type before anything reads it."""

from __future__ import annotations

import unicodedata

MAX_INPUT = 1000  # longer messages are read only this far; nobody's question needs more
_KEEP_FORMAT = {"\u200c", "\u200d"}  # zero-width (non-)joiners carry meaning in Farsi and emoji


def clean(text: str) -> str:
    """Drop control and bidi-override characters, collapse whitespace, cap the length."""
    kept = []
    for ch in text[: MAX_INPUT * 4]:
        cat = unicodedata.category(ch)
        if ch in "\n\t":
            kept.append(" ")
        elif cat == "Cc" or (cat == "Cf" and ch not in _KEEP_FORMAT):
            continue
        else:
            kept.append(ch)
    return " ".join("".join(kept).split())[:MAX_INPUT]


def fold(text: str) -> str:
    """Lower-case and strip accents, for matching typed words against ours."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
