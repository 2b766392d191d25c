"""The one markup a reply carries, `**bold**`, written in each channel's own way."""

from __future__ import annotations

import re

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)


def bold(text: str, start: str, end: str) -> str:
    """Every `**words**` marked with the channel's own start and end ("<b>", "*", or none)."""
    return _BOLD.sub(lambda m: f"{start}{m.group(1)}{end}", text)
