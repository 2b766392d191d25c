"""Spotting danger now in what people type, in any of the seven languages, before anything else.

Two checks, either of which fires:
- a danger phrase from a language's search.yaml, every telling word present (typos allowed);
- a word-evidence score: each word weighs how much more often it occurs in danger phrases than
  in ordinary text (the not-danger examples, search words and every translated screen), so
  "machete ... outside ... now" adds up even when no listed phrase matches word for word.
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.i18n import Catalogs
from bot.search import WORD_GROUPS, load_search_words
from bot.text import terms

MIN_WORD = 3  # shorter words ("he", "a", "في") are optional: people word the same danger many ways
TYPO_RATIO = 80.0
THRESHOLD = 5.5  # evidence (in nats) above which a message is treated as danger now
NOW_THRESHOLD = 2.5  # less evidence is enough when the message says it is happening now
WEAPON_RATIO = 90.0  # "cuchilo" is a knife; "arrombada" (forced open) is not "armada" (armed)

# Words that say "right now", in every language; with some evidence of danger they tip it.
_NOW = (
    "now|right now|maintenant|en ce moment|ahora|ahorita|agora|الان|هلا|هلق|هلأ|hala2|halla|"
    "daba|دابا|الحين|دلوقتي|هسه|همین الان|الان|alan|hadda|hada|haatan"
)
_NOW_WORDS = [terms(w) for w in _NOW.split("|")]

# A weapon here or now is danger now, however the rest is worded; "knife crime" is a topic.
_WEAPONS = (
    "knife|knives|gun|guns|machete|acid|pistol|firearm|blade|shotgun|rifle|weapon|armed|"
    "couteau|couteaux|arme|armes|pistolet|fusil|machette|acide|flingue|lame|"
    "cuchillo|cuchillos|navaja|navajas|arma|armas|pistola|escopeta|armado|"
    "faca|facas|facao|revolver|canivete|armada|"
    "سکین|سکینه|سکاکین|سلاح|مسدس|رشاش|ساطور|اسید|بندقیه|خنجر|sekkin|sikkin|sakin|sla7|"
    "چاقو|قمه|اسلحه|تفنگ|کلت|chaghoo|chaghu|ghame|tofang|"
    "mindi|mindiyo|mindida|qori|qoriga|bastoolad|hub|hubeysan|hubaysan"
)
_WEAPON_WORDS = {t for w in _WEAPONS.split("|") for t in terms(w)}
_CRIME = "crime|crimes|crimen|delitos|criminalidade|جرائم|جریمه|جرم|چاقوکشی|jara2em|dambiga|dambi"
_CRIME_WORDS = {t for w in _CRIME.split("|") for t in terms(w)}
_HERE = (
    "here|outside|street|door|house|home|downstairs|front|corridor|stairs|"
    "ici|dehors|rue|porte|devant|maison|chez|escalier|"
    "aqui|aca|afuera|fuera|calle|puerta|casa|enfrente|delante|"
    "fora|rua|porta|frente|escada|"
    "هنا|برا|بره|شارع|باب|قدام|بیت|جوا|درج|"
    "اینجا|بیرون|خیابون|خیابان|جلو|خونه|خانه|"
    "halkan|banaanka|dibadda|waddada|albaabka|guriga|hortayda"
)
_HERE_WORDS = {t for w in _HERE.split("|") for t in terms(w)}

# Being held: someone has locked the person in. Word beginnings, so every form counts
# ("encerrada", "encerró"), and short phrases where the word alone is ordinary ("prison").
_HELD_STEMS = ("encerr", "enferm", "trancad", "trancou", "حابس", "محبوس", "زندانیم")
_HELD = (
    "locked me in|locked in the|locking me in|wont let me out|won't let me leave|"
    "no me deja salir|no me dejan salir|ne me laisse pas sortir|nao me deixa sair|"
    "زندانی کرده|زندانی کردن|حبس کرده|نمیذاره برم بیرون|ما بیخلینی اطلع|قافل علی|"
    "igu xiray|igu xireen|ii ogolaan maayo inaan baxo"
)
_HELD_WORDS = [terms(p) for p in _HELD.split("|")]
_HELD_PREFIXES = tuple(t for w in _HELD_STEMS for t in terms(w))

# Words that turn alarming words into an ordinary question: it happened before, or the person
# wants information or advice. A word saying it is happening now outweighs them.
_CALM = (
    "yesterday|last week|last month|last year|ago|information|info|tips|advice|how to|how do|"
    "best way|statistics|school|schools|weeds|garden|parents|hier|semaine derniere|"
    "mois dernier|il y a|infos|informations|conseils|comment|mauvaises herbes|ayer|"
    "semana pasada|mes pasado|informacion|consejos|como puedo|como hago|malas hierbas|"
    "hace un|hace unos|hace dos|hace meses|año pasado|ontem|semana passada|ano passado|"
    "mes passado|informacao|conselhos|dicas|erva daninha|jardim|امس|امبارح|السنة الماضية|"
    "من فترة|الاسبوع الماضی|"
    "الشهر الماضی|معلومات|نصایح|کیف|دیروز|هفته پیش|هفته گذشته|ماه پیش|ماه گذشته|"
    "اطلاعات|نکات|توصیه|چطور|پارسال|سال پیش|قبلا|"
    "shalay|toddobaadkii hore|bishii hore|sanadkii hore|macluumaad|talo|sidee"
)
_CALM_WORDS = [terms(w) for w in _CALM.split("|")]


def _mentions(query: list[str], markers: list[list[str]]) -> bool:
    joined = f" {' '.join(query)} "
    return any(f" {' '.join(m)} " in joined for m in markers if m)


def _phrase_words(phrase: str) -> list[str]:
    ws = terms(phrase)
    content = [w for w in ws if len(w) >= MIN_WORD or w.isdigit()]
    # "help me" must keep its "me": alone, "help" is an ordinary word.
    return content if len(content) >= 2 else ws


def _by_letter(ws: Iterable[str]) -> dict[str, list[str]]:
    out: defaultdict[str, list[str]] = defaultdict(list)
    for w in ws:
        out[w[0]].append(w)
    return dict(out)


def _similar(word: str, other: str) -> bool:
    """Same word, a typo of it, or the same stem ("stabbing"/"stabbed")."""
    if word == other:
        return True
    if len(word) < 5 or len(other) < 4 or word[0] != other[0]:
        return False
    cutoff = TYPO_RATIO if len(word) >= 8 else 86.0
    return bool(fuzz.ratio(word, other, score_cutoff=cutoff))


class DangerDetector:
    """Danger phrases and word evidence from every language, checked before anything else."""

    def __init__(self, locales_dir: Path, catalogs: Catalogs | None = None) -> None:
        data = load_search_words(locales_dir)
        self._phrases: list[list[str]] = []
        seen: set[tuple[str, ...]] = set()
        for lang_data in data.values():
            for phrase in lang_data.get("danger") or []:
                key = tuple(_phrase_words(str(phrase)))
                if key and key not in seen:
                    seen.add(key)
                    self._phrases.append(list(key))
        self._weights = self._learn(data, catalogs)
        # Indexes so each typed word is compared once, and only with words sharing its first
        # letter (a typo rarely hits the first letter): this check runs on every message.
        self._vocab = {w for phrase in self._phrases for w in phrase}
        self._by_head: defaultdict[str, list[list[str]]] = defaultdict(list)
        for phrase in self._phrases:
            self._by_head[phrase[0]].append(phrase)
        self._phrase_letters = _by_letter(w for w in self._vocab if len(w) >= 5)
        self._weight_letters = _by_letter(w for w in self._weights if len(w) >= 4)
        self._matching = functools.lru_cache(maxsize=65536)(self._phrase_words_like)
        self._near = functools.lru_cache(maxsize=65536)(self._nearest_weight)

    def _phrase_words_like(self, typed: str) -> frozenset[str]:
        """The danger-phrase words a typed word stands for: itself, a typo or another form."""
        found = {typed} if typed in self._vocab else set()
        if len(typed) >= 4:
            candidates = self._phrase_letters.get(typed[0], [])
            for word, _score, _i in process.extract(
                typed, candidates, scorer=fuzz.ratio, score_cutoff=TYPO_RATIO, limit=None
            ):
                if _similar(word, typed):
                    found.add(word)
        return frozenset(found)

    def _nearest_weight(self, typed: str) -> float | None:
        candidates = self._weight_letters.get(typed[0], [])
        near = [
            self._weights[w]
            for w, _score, _i in process.extract(
                typed, candidates, scorer=fuzz.ratio, score_cutoff=TYPO_RATIO, limit=None
            )
            if _similar(typed, w)
        ]
        return max(near, default=None)

    @staticmethod
    def _learn(data: dict[str, dict[str, object]], catalogs: Catalogs | None) -> dict[str, float]:
        danger: Counter[str] = Counter()
        ordinary: Counter[str] = Counter()
        n_danger = n_ordinary = 0

        def count(counter: Counter[str], texts: Iterable[str]) -> int:
            n = 0
            for text in texts:
                counter.update(set(terms(text)))
                n += 1
            return n

        for lang_data in data.values():
            n_danger += count(danger, map(str, lang_data.get("danger") or []))  # type: ignore[call-overload]
            n_ordinary += count(ordinary, map(str, lang_data.get("not_danger") or []))  # type: ignore[call-overload]
            for group in WORD_GROUPS:
                for items in (lang_data.get(group) or {}).values():  # type: ignore[attr-defined]
                    n_ordinary += count(ordinary, map(str, items or []))
        if catalogs is not None:
            n_ordinary += count(ordinary, catalogs.all_texts())
        weights = {}
        for word, d in danger.items():
            p_danger = (d + 0.2) / (n_danger + 1)
            p_ordinary = (ordinary[word] + 0.2) / (n_ordinary + 1)
            weights[word] = math.log(p_danger / p_ordinary)
        return weights

    def evidence(self, text: str) -> float:
        """How strongly the words of `text` point to danger now (only telling words count)."""
        total = 0.0
        for word in set(terms(text)[:80]):
            weight = self._weights.get(word)
            if weight is None and len(word) >= 5:
                weight = self._near(word)
            if weight is not None and weight > 1.0:
                total += weight - 1.0
        return total

    @staticmethod
    def _armed_here(query: list[str], now: bool) -> bool:
        """A weapon mentioned with here, outside or now."""
        found = set(query)
        armed = any(
            w in _WEAPON_WORDS
            or (len(w) >= 5 and process.extractOne(w, _WEAPON_WORDS, score_cutoff=WEAPON_RATIO))
            for w in found
        )
        return armed and (now or bool(found & _HERE_WORDS))

    @staticmethod
    def _held(query: list[str]) -> bool:
        """Someone is being kept in against their will."""
        return any(w.startswith(_HELD_PREFIXES) for w in query) or _mentions(query, _HELD_WORDS)

    def is_emergency(self, text: str) -> bool:
        """Whether `text` describes danger now."""
        query = terms(text)[:80]
        if not query:
            return False
        now = _mentions(query, _NOW_WORDS)
        if _mentions(query, _CALM_WORDS) and not now:
            return False
        topical = bool(set(query) & _CRIME_WORDS)  # "knife crime": a lone word is the topic
        if not topical and (self._armed_here(query, now) or self._held(query)):
            return True
        matched: set[str] = set()
        for typed in set(query):
            matched |= self._matching(typed)
        for head in matched:
            for phrase in self._by_head.get(head, []):
                if len(phrase) == 1 and topical:
                    continue
                if all(w in matched for w in phrase):
                    return True
        evidence = self.evidence(text)
        return evidence >= THRESHOLD or (now and evidence >= NOW_THRESHOLD)
