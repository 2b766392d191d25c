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
    """Drop control, bidi-override and lone surrogate characters, collapse spaces, cap length."""
    kept = []
    for ch in text[: MAX_INPUT * 4]:
        cat = unicodedata.category(ch)
        if ch in "\n\t":
            kept.append(" ")
        elif cat in ("Cc", "Cs") or (cat == "Cf" and ch not in _KEEP_FORMAT):
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


# Arabic glues the article and some particles to the word: "بالشارع", "والجار", "بيضربني".
# Stripping them on both sides lets "in the street" match "street". Longest prefixes first.
_ARTICLES = ("وبال", "وال", "بال", "فال", "کال", "لل", "ال")
_ARABIC = re.compile(r"^[\u0621-\u06ff]+$")
MIN_STEM = 3


def _stem(word: str) -> str:
    if not _ARABIC.match(word):
        return word
    for prefix in _ARTICLES:
        if word.startswith(prefix) and len(word) - len(prefix) >= MIN_STEM:
            return word[len(prefix) :]
    rest = word
    if rest.startswith("و") and len(rest) - 1 >= MIN_STEM:
        rest = rest[1:]  # "and": "وعم", "وجاري"
    if rest.startswith("ب") and rest[1:2] in ("ی", "ت", "ن") and len(rest) - 1 >= MIN_STEM + 1:
        rest = rest[1:]  # spoken present tense: "بيضربني" is "يضربني"
    return rest


def terms(text: str) -> list[str]:
    """The words of a text for matching: folded, with Arabic article and particles removed."""
    return [_stem(w) for w in words(text)]


def split_text(text: str, limit: int = 4096) -> list[str]:
    """Cut a long text into parts under `limit`, at paragraph, line or word breaks."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), 0) or max(window.rfind("\n"), 0) or window.rfind(" ")
        if cut < limit // 2:
            cut = limit  # no sensible break: cut hard rather than send tiny pieces
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
