"""Spotting danger now in what people type, before anything else."""

from __future__ import annotations

import re

from bot.text import fold

# Phrases that mean someone is in danger right now. Matched on folded words.
_DANGER = [
    r"\bknife\b", r"\bgun\b", r"\bstabb?(ed|ing)?\b", r"\bshot\b", r"\bshoot(ing)?\b",
    r"\bin danger\b", r"\bhelp me\b", r"\bkill (me|us|her|him|you)\b", r"\bgoing to kill\b",
    r"\battack(ing|ed)? (me|us)\b", r"\bbreaking in\b", r"\bbroke in\b",
    r"\bbreak(ing)? the door\b",
    r"\bhitting me\b", r"\bbeating me\b", r"\bhurting me\b", r"\bfollowing me\b",
]  # fmt: skip
_PATTERN = re.compile("|".join(_DANGER))


def is_emergency(text: str) -> bool:
    """Whether `text` describes danger now."""
    return bool(_PATTERN.search(fold(text)))
