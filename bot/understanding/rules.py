"""Word rules for danger now, beside the learned danger model (bot.understanding.reader).

Two situations are danger now however they are worded, and a model trained on examples may
still miss an unusual wording of them, so these rules add recall:
- a weapon mentioned with here, outside or now ("machete ... outside ... now");
- someone being kept in against their will ("he locked me in").
Words about the past or asking for advice calm the weapon rule, unless the message says "now".
They also fire on escape rooms and doors locked out of, so they only ever make the assistant
ask "Is someone in danger right now?": the card itself is the model's to raise. The words of
every language are content, in danger-words.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rapidfuzz import process

from bot.understanding.text import terms

WEAPON_RATIO = 90.0  # "cuchilo" is a knife; "arrombada" (forced open) is not "armada" (armed)


def _phrases(words: Sequence[str]) -> list[list[str]]:
    return [terms(w) for w in words]


def _words(words: Sequence[str]) -> set[str]:
    return {t for w in words for t in terms(w)}


def _mentions(query: list[str], markers: list[list[str]]) -> bool:
    joined = f" {' '.join(query)} "
    return any(f" {' '.join(m)} " in joined for m in markers if m)


class DangerRules:
    """The word rules, from danger-words.yaml's lists."""

    def __init__(self, words: Mapping[str, Sequence[str]]) -> None:
        self._now = _phrases(words["now"])
        self._weapons = _words(words["weapons"])
        self._here = _words(words["here"])
        self._crime = _words(words["crime"])
        self._held = _phrases(words["held"])
        self._held_starts = tuple(t for w in words["held_starts"] for t in terms(w))
        self._calm = _phrases(words["calm"])

    def say_danger(self, text: str) -> bool:
        """Whether a weapon here or now, or someone held, makes `text` danger now."""
        query = terms(text)[:80]
        if not query:
            return False
        now = _mentions(query, self._now)
        if _mentions(query, self._calm) and not now:
            return False
        topical = bool(set(query) & self._crime)  # "knife crime": the topic, not a knife here
        return not topical and (self._armed_here(query, now) or self._kept_in(query))

    def _armed_here(self, query: list[str], now: bool) -> bool:
        """A weapon mentioned with here, outside or now."""
        found = set(query)
        armed = any(
            w in self._weapons
            or (len(w) >= 5 and process.extractOne(w, self._weapons, score_cutoff=WEAPON_RATIO))
            for w in found
        )
        return armed and (now or bool(found & self._here))

    def _kept_in(self, query: list[str]) -> bool:
        """Someone is being kept in against their will."""
        return any(w.startswith(self._held_starts) for w in query) or _mentions(query, self._held)
