"""Which of the seven languages a first message is written in, when its words make it clear."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from bot.content.corpus import load_examples
from bot.content.i18n import LANGS, Catalogs
from bot.understanding.text import terms

PERSIAN_LETTERS = frozenset("پچژگ")  # letters Farsi has and Arabic does not
MIN_SCORE = 1.5  # at least this much evidence...
MARGIN = 2.0  # ...and this many times more than the next language
COMMON = 4  # a word used by this many languages says nothing (names, numbers, "ok")


class LanguageGuesser:
    """Scores a text against each language's own words: the screens and the examples."""

    def __init__(self, catalogs: Catalogs, locales_dir: Path) -> None:
        langs_of: defaultdict[str, set[str]] = defaultdict(set)
        examples: defaultdict[str, list[str]] = defaultdict(list)
        for ex in load_examples(locales_dir):
            examples[ex.lang].append(ex.text)
        for lang in LANGS:
            lines = list(catalogs.texts(lang)) + examples[lang]
            for line in lines:
                for word in terms(line):
                    if not word.isdigit():
                        langs_of[word].add(lang)
        self._langs_of = {w: ls for w, ls in langs_of.items() if len(ls) < COMMON}

    def guess(self, text: str) -> str | None:
        """The language, or None when the words leave it open (then the person is asked)."""
        scores: dict[str, float] = defaultdict(float)
        for word in set(terms(text)[:60]):
            langs = self._langs_of.get(word, set())
            for lang in langs:
                scores[lang] += 1 / len(langs)
        if PERSIAN_LETTERS & set(text):
            scores["fa"] += 2.0
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        if not ranked or ranked[0][1] < MIN_SCORE:
            return None
        if len(ranked) > 1 and ranked[0][1] < MARGIN * ranked[1][1]:
            return None
        return ranked[0][0]
