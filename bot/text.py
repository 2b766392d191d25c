"""Cleaning what people type, and folding it so words match across scripts and spellings."""

from __future__ import annotations

import re
import unicodedata

MAX_INPUT = 1000  # longer messages are read only this far; nobody's question needs more
_KEEP_FORMAT = {"\u200c", "\u200d"}  # zero-width (non-)joiners carry meaning in Farsi and emoji

# One spelling for letters that people type interchangeably in Arabic and Farsi.
_LETTERS = str.maketrans(
    {
        "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا",  # alef with hamza or madda
        "ى": "ی", "ي": "ی", "ئ": "ی",  # Arabic and Persian yeh, alef maqsura
        "ك": "ک",  # Arabic and Persian kaf
        "ة": "ه",  # teh marbuta
        "ؤ": "و",
        "ـ": None,  # tatweel, a stretching stroke
        "\u200c": None, "\u200d": None,  # zero-width (non-)joiners: spelt with or without
        **{chr(0x0660 + i): str(i) for i in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + i): str(i) for i in range(10)},  # Persian digits
    }
)  # fmt: skip
_NOT_WORD = re.compile(r"[^\w]+")


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
    """Lower-case, strip accents and Arabic diacritics, unify letter variants and digits."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_LETTERS)
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def words(text: str) -> list[str]:
    """The folded words of a text, punctuation dropped."""
    return [w for w in _NOT_WORD.split(fold(text).replace("_", " ")) if w]
