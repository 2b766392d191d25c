"""Finding services from a person's own words, in any of the seven languages."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from bot.directory import Directory
from bot.i18n import LANGS, Catalogs
from bot.text import terms

MIN_SCORE = 15.0
# Danger now is answered by the emergency card before any search, so 999 never competes here.
NOT_SEARCHED = frozenset({"police-emergency"})
MAX_NGRAM = 4
FUZZY_CUTOFF = 84.0  # typo tolerance: "neigbours" still finds "neighbours"
MIN_FUZZY_CHARS = 5  # shorter words must match exactly: "hit" is not "hat"

# How much a match on each kind of words counts towards a service.
W_NAME, W_SERVICE_WORD, W_TOPIC_WORD, W_DESCRIPTION = 3.0, 2.5, 1.4, 0.35
# The groups of everyday words in a search.yaml: for topics, for services, for the tips screens.
WORD_GROUPS = ("topics", "services", "tips")


@dataclass(frozen=True)
class Hit:
    """A service that matches a query, with a score from 0 to 100."""

    id: str
    score: float


@dataclass
class _Index:
    """Phrases grouped by their number of words, each pointing at weighted services."""

    phrases: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    targets: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    stems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # Phrases by word count and first letter: a typo rarely hits the first letter, and
    # comparing only within a bucket keeps fuzzy matching fast however many words we know.
    buckets: dict[tuple[int, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    # Whether each word of a phrase also counts alone; not for tips, where "bike" alone more
    # likely means a stolen one than a question about keeping one safe.
    words_alone: bool = True

    def add(self, text: str, service: str, weight: float) -> None:
        ws = terms(text)
        if len(ws) > 1 and self.words_alone:
            # Each telling word of a phrase also counts alone, more weakly: people reword.
            for w in ws:
                if len(w) >= 4:
                    self._add([w], service, weight * 0.45)
        self._add(ws, service, weight)

    def _add(self, ws: list[str], service: str, weight: float) -> None:
        if not ws or len(ws) > MAX_NGRAM:
            return
        phrase = " ".join(ws)
        if phrase not in self.targets:
            self.phrases[len(ws)].append(phrase)
            if len(phrase) >= MIN_FUZZY_CHARS:
                self.buckets[(len(ws), phrase[0])].append(phrase)
            if len(ws) == 1 and len(phrase) >= 4:
                self.stems[phrase[:4]].append(phrase)
        old = self.targets[phrase].get(service, 0.0)
        self.targets[phrase][service] = max(old, weight)


def load_search_words(locales_dir: Path) -> dict[str, dict[str, Any]]:
    """Each language's search.yaml: words per topic and service, danger phrases."""
    out = {}
    for lang in LANGS:
        path = locales_dir / lang / "search.yaml"
        if path.exists():
            out[lang] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return out


class Searcher:
    """Fuzzy matching over names, everyday words per language and translated descriptions."""

    def __init__(
        self,
        directory: Directory,
        catalogs: Catalogs | None = None,
        locales_dir: Path | None = None,
    ) -> None:
        self.directory = directory
        # Ties go to the service staff listed first; fixed at start-up, so computed once.
        self._order = {sid: i for i, sid in enumerate(directory.services)}
        index = _Index()
        translators = [catalogs.get(lang) for lang in LANGS] if catalogs else []
        extra = load_search_words(locales_dir) if locales_dir else {}
        for service in directory.services.values():
            if service.id in NOT_SEARCHED:
                continue
            names = {service.name, service.label}
            names |= {t(n) for t in translators for n in (service.name, service.label)}
            for name in names:
                index.add(name, service.id, W_NAME)
            for lang_words in extra.values():
                for w in (lang_words.get("services") or {}).get(service.id, []) or []:
                    index.add(str(w), service.id, W_SERVICE_WORD)
            texts = {service.summary, service.audience} - {""}
            texts |= {t(x) for t in translators for x in texts}
            for text in texts:
                for w in terms(text):
                    if len(w) >= 4:
                        index.add(w, service.id, W_DESCRIPTION)
        for topic in directory.topics.values():
            members = directory.in_topic(topic.id)
            topic_words = {*topic.keywords, topic.name, topic.label}
            topic_words |= {t(x) for t in translators for x in (topic.name, topic.label)}
            for lang_words in extra.values():
                topic_words |= {str(w) for w in (lang_words.get("topics") or {}).get(topic.id, [])}
            for rank, service in enumerate(s for s in members if s.id not in NOT_SEARCHED):
                # Earlier services in a topic are the broader ones: they come first on a tie.
                weight = W_TOPIC_WORD / (1 + 0.08 * rank)
                for w in topic_words:
                    index.add(w, service.id, weight)
        self._index, self._idf = index, _idf(index, len(directory.services))
        # Crime-prevention advice: "how do I keep my bike safe" wants the tips, not a helpline.
        tips = _Index(words_alone=False)
        for lang_words in extra.values():
            for screen, words in (lang_words.get("tips") or {}).items():
                for w in words or []:
                    tips.add(str(w), str(screen), W_SERVICE_WORD)
        screens = {sid for targets in tips.targets.values() for sid in targets}
        self._tips, self._tips_idf = tips, _idf(tips, max(len(screens), 1))
        self._tips_order = {sid: i for i, sid in enumerate(sorted(screens))}

    def _matches(self, index: _Index, query_words: list[str]) -> list[tuple[int, str, float]]:
        """(query position, phrase, similarity 0-1) for every phrase the query contains."""
        found: list[tuple[int, str, float]] = []
        for n in range(1, MAX_NGRAM + 1):
            grams = [" ".join(query_words[i : i + n]) for i in range(len(query_words) - n + 1)]
            phrases = index.phrases.get(n, [])
            if not grams or not phrases:
                continue
            exact = index.targets
            for i, g in enumerate(grams):
                if g in exact:
                    found.append((i, g, 1.0))
                elif n == 1 and len(g) >= 4:
                    # One word the start of the other: "gang"/"gangs", "drinkers"/"drinking".
                    for stem in index.stems.get(g[:4], []):
                        short, long_ = sorted((g, stem), key=len)
                        if long_.startswith(short[: max(4, len(short) - 2)]) and stem != g:
                            found.append((i, stem, 0.85))
            by_letter: dict[str, list[tuple[int, str]]] = defaultdict(list)
            for i, g in enumerate(grams):
                if len(g) >= MIN_FUZZY_CHARS:
                    by_letter[g[0]].append((i, g))
            for letter, fuzzy in by_letter.items():
                bucket = index.buckets.get((n, letter))
                if not bucket:
                    continue
                matrix = process.cdist(
                    [g for _, g in fuzzy], bucket, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
                )
                for row, (i, g) in enumerate(fuzzy):
                    for col in matrix[row].nonzero()[0]:
                        phrase = bucket[col]
                        if phrase != g:
                            found.append((i, phrase, float(matrix[row][col]) / 100))
        return found

    def search(self, query: str, limit: int = 3) -> list[Hit]:
        """The best services for `query`, best first."""
        return self._rank(self._index, self._idf, self._order, query)[:limit]

    def tip(self, query: str) -> Hit | None:
        """The tips screen `query` asks for, if any."""
        found = self._rank(self._tips, self._tips_idf, self._tips_order, query)
        return found[0] if found else None

    def _rank(
        self, index: _Index, idf: dict[str, float], order: dict[str, int], query: str
    ) -> list[Hit]:
        query_words = terms(query)[:60]
        if not query_words:
            return []
        # For each target, each query position counts once: its best phrase.
        best: dict[str, dict[int, float]] = defaultdict(dict)
        for pos, phrase, sim in self._matches(index, query_words):
            length_bonus = 1 + 0.35 * (phrase.count(" "))
            for sid, weight in index.targets[phrase].items():
                value = weight * idf[phrase] * sim * sim * length_bonus
                if value > best[sid].get(pos, 0.0):
                    best[sid][pos] = value
        scored = {sid: 100 * (1 - math.exp(-sum(v.values()) / 2.5)) for sid, v in best.items()}
        ranked = sorted(scored.items(), key=lambda kv: (-kv[1], order[kv[0]]))
        return [Hit(sid, round(s, 1)) for sid, s in ranked if s >= MIN_SCORE]


def _idf(index: _Index, n: int) -> dict[str, float]:
    """How telling each phrase is: rarer across the `n` targets, more telling."""
    return {
        phrase: math.log(1 + n / len(targets)) / math.log(1 + n)
        for phrase, targets in index.targets.items()
    }
