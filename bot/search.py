"""Finding services from a person's own words."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.directory import Directory
from bot.text import fold

MIN_SCORE = 60.0


@dataclass(frozen=True)
class Hit:
    """A service that matches a query, with a score from 0 to 100."""

    id: str
    score: float


class Searcher:
    """Fuzzy matching over service names, summaries and topic keywords."""

    def __init__(self, directory: Directory) -> None:
        self._docs: list[tuple[str, str]] = []
        for service in directory.services.values():
            words = [service.name, service.summary, service.audience]
            for tid in service.topics:
                topic = directory.topics[tid]
                words += [topic.name, *topic.keywords]
            for w in words:
                if w:
                    self._docs.append((service.id, fold(w)))

    def search(self, query: str, limit: int = 3) -> list[Hit]:
        """The best services for `query`, best first."""
        q = fold(query)
        if not q.strip():
            return []
        best: dict[str, float] = {}
        matches = process.extract(
            q, [d for _, d in self._docs], scorer=fuzz.token_set_ratio, limit=None
        )
        for _, score, index in matches:
            sid = self._docs[index][0]
            best[sid] = max(best.get(sid, 0.0), float(score))
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        return [Hit(sid, round(score, 1)) for sid, score in ranked if score >= MIN_SCORE][:limit]
