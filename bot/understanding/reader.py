"""Reading what a person typed: which situation it is about, and whether someone is in danger now.

Learned from the labelled examples in locales/<lang>/examples.yaml (scikit-learn): character
n-grams (typos, scripts, Arabizi and Finglish) and word n-grams feed two linear models, one for
the situation and one for danger now. Training is deterministic and takes about forty seconds;
the trained models are cached under a fingerprint of the files they come from, so a start is
fast and a changed example means training again. Word rules (bot.understanding.rules) add recall for
danger: they make the assistant ask, never raise the card alone.
"""

from __future__ import annotations

import enum
import logging
import os
import pickle
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from scipy.sparse import hstack
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from bot.content.corpus import (
    EXCLUSIVE,
    Example,
    Situation,
    examples_paths,
    fingerprint,
    load_examples,
)
from bot.content.directory import Directory
from bot.content.i18n import LANGS
from bot.content.loader import Content
from bot.understanding import rules as safety
from bot.understanding.text import MAX_INPUT, terms

log = logging.getLogger("bot.understanding.reader")

MODEL_VERSION = "4"  # raise when the features or models change, so old caches are not used

# Danger now: at or above YES the emergency card comes first; between ASK and YES the person
# is asked "Is someone in danger right now?". Chosen on the development sets (bench/heldout2
# and bench/heldout3 together), never on a set whose figures are reported: 0.6 is the lowest
# that kept harmless messages bringing the card under 3%, and at 0.2 every danger-now message
# there is at least asked about.
DANGER_YES = 0.6
DANGER_ASK = 0.2
# With 85 situations the probabilities spread thin; these were chosen by cross-validation on
# the examples: a command or screen this likely is right 9 times in 10 and fires on under 0.5%
# of other messages, and below UNSURE the best situation is right only one time in four.
COMMAND_MIN = 0.3  # words taken as a command ("forget me"): forget still asks to confirm
SCREEN_MIN = 0.35  # a tips screen or the report form
UNSURE = 0.2  # below this for the best situation, ask which is closest instead of guessing
WHO_MIN = 0.5  # a service for one group only, when the message is about that group this surely
ASK_WHO = 0.15  # own behaviour this likely, but under WHO_MIN: ask who it is about
# A situation's later services are a little less likely to be the one a person needs.
RANK_WEIGHTS = (1.0, 0.9, 0.8, 0.7, 0.6)
MAX_HITS = 3
# The question "Who is this about?" offers these situations: about me, someone I know, my own
# behaviour.
WHO_OPTIONS = ("abuse.partner", "abuse.partner.other", "abuse.own")
KEEP_CACHED = 3  # trained models kept in the cache folder


class Danger(enum.Enum):
    """Whether someone is in danger now, as far as the words tell."""

    NO = "no"
    MAYBE = "maybe"
    YES = "yes"


@dataclass(frozen=True)
class Hit:
    """A service that fits a message, with a score from 0 to 100."""

    id: str
    score: float


@dataclass(frozen=True)
class Ask:
    """A question back: `kind` is "danger", "who" or "topic"; `options` are ids to offer."""

    kind: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Reading:
    """What one message seems to be about."""

    danger: Danger
    danger_score: float
    situations: tuple[tuple[str, float], ...]
    hits: tuple[Hit, ...] = ()
    screen: str | None = None
    command: str | None = None
    ask: Ask | None = None


def features_text(text: str) -> str:
    """The text the models see: folded words, Arabic articles removed, capped."""
    return " ".join(terms(text[:MAX_INPUT]))


class Model:
    """The trained vectorisers and the two linear models, kept as plain arrays.

    Scikit-learn fits them; only their weights are kept, so a reading is two small matrix
    products (well under a millisecond) and the cached file holds no estimator objects.
    """

    def __init__(self, examples: Sequence[Example], situations: dict[str, Situation]) -> None:
        texts = [features_text(ex.text) for ex in examples]
        self.chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, dtype=np.float32
        )
        self.words = TfidfVectorizer(
            analyzer="word",
            ngram_range=(1, 2),
            token_pattern=r"(?u)\b\w+\b",
            sublinear_tf=True,
            dtype=np.float32,
        )
        x = hstack([self.chars.fit_transform(texts), self.words.fit_transform(texts)]).tocsr()
        for vectorizer in (self.chars, self.words):
            # The words dropped as too rare: large, and never needed to read a message.
            if hasattr(vectorizer, "stop_words_"):
                del vectorizer.stop_words_
        labels = [ex.situation for ex in examples]
        # A linear SVM trains in seconds where logistic regression takes minutes, and is as
        # accurate; sigmoid calibration (fitted on three folds) turns its margins into
        # probabilities.
        # random_state: its solver visits examples in a shuffled order; fixed, so the same
        # examples always give the same model. The three folds train on both cores at once.
        calibrated = CalibratedClassifierCV(
            LinearSVC(C=0.5, random_state=0), cv=3, ensemble=False, n_jobs=2
        )
        calibrated.fit(x, labels)
        [fitted] = calibrated.calibrated_classifiers_
        svm = fitted.estimator
        self.classes: list[str] = [str(c) for c in calibrated.classes_]
        self.weights = np.ascontiguousarray(svm.coef_.T, dtype=np.float32)
        self.bias = svm.intercept_.astype(np.float32)
        self.slope = np.array([c.a_ for c in fitted.calibrators], dtype=np.float32)
        self.offset = np.array([c.b_ for c in fitted.calibrators], dtype=np.float32)
        dangerous = np.array([situations[label].danger for label in labels])
        # Unweighted: weighting the rarer danger examples up doubled false alarms on the
        # examples (cross-validated) for little more danger caught, which the question catches.
        danger = LogisticRegression(C=10.0, max_iter=500)
        danger.fit(x, dangerous)
        self.danger_weights = danger.coef_[0].astype(np.float32)
        self.danger_bias = float(danger.intercept_[0])

    def vector(self, texts: Sequence[str]) -> Any:
        """The feature rows for `texts`."""
        folded = [features_text(t) for t in texts]
        # The vectorisers were checked when they were trained, and text holds no NaN:
        # scikit-learn's checks on every call would be a quarter of a reading's time.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return hstack([self.chars.transform(folded), self.words.transform(folded)]).tocsr()

    def predict(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(situation probabilities, one row per text; danger-now probability per text)."""
        x = self.vector(texts)
        margins = np.asarray(x @ self.weights) + self.bias
        # As scikit-learn's sigmoid calibration does: each class's own curve, then normalised.
        probs = expit(-(self.slope * margins + self.offset))
        totals = probs.sum(axis=1, keepdims=True)
        probs = np.divide(probs, totals, out=np.full_like(probs, 1 / len(self.classes)),
                          where=totals > 0)  # fmt: skip
        danger = expit(np.asarray(x @ self.danger_weights).ravel() + self.danger_bias)
        return probs, danger


def cache_dir() -> Path:
    """Where trained models are kept: BOT_CACHE_DIR, or the user's cache folder."""
    configured = os.environ.get("BOT_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "safer-kc"


def _sources(root: Path) -> list[Path]:
    paths = [root / "situations.yaml"]
    paths += [p for lang in LANGS for p in examples_paths(root / "locales", lang)]
    return paths


def load_model(root: Path, situations: dict[str, Situation], cache: Path | None = None) -> Model:
    """The model for the examples under `root`: from the cache, or trained now and cached."""
    key = fingerprint(_sources(root), f"{MODEL_VERSION}/{sklearn.__version__}")
    folder = cache or cache_dir()
    path = folder / f"understanding-{key}.pickle"
    try:
        with path.open("rb") as f:
            model = pickle.load(f)  # our own file, named by the hash of what it was built from
        if isinstance(model, Model):
            return model
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass
    model = Model(load_examples(root / "locales"), situations)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Two processes may train at once on a first start: each writes its own file, then
        # renames it into place, so nobody ever reads half a model.
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".tmp") as out:
            pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(out.name, path)
        # Models of examples that have since changed: keep only the newest few.
        kept = sorted(folder.glob("understanding-*.pickle"), key=lambda p: -p.stat().st_mtime)
        for old in kept[KEEP_CACHED:]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not cache the trained model", extra={"error": type(exc).__name__})
    return model


def load_understanding(content: Content, cache: Path | None = None) -> Understanding:
    """The understanding of `content`'s examples, trained or from the cache."""
    model = load_model(content.root, content.situations, cache)
    return Understanding(content.directory, content.situations, model)


class Understanding:
    """Turns a message into a Reading: danger now, the situation, the services that fit."""

    def __init__(
        self,
        directory: Directory,
        situations: dict[str, Situation],
        model: Model,
    ) -> None:
        self.directory = directory
        self.situations = situations
        self.model = model
        self.labels: list[str] = model.classes
        # Ties go to the service staff listed first; fixed at start-up, so computed once.
        self._order = {sid: i for i, sid in enumerate(directory.services)}
        self._danger = [i for i, s in enumerate(self.labels) if situations[s].danger]
        self._who = {g: [i for i, s in enumerate(self.labels) if situations[s].who == g]
                     for g in {s.who for s in situations.values() if s.who}}  # fmt: skip
        # What a person worried about their own behaviour is offered: never the victims' lines.
        self._own = {sid for s in situations.values() if s.who == "own" for sid in s.services}

    def read(self, text: str) -> Reading:
        """What `text` is about; never raises for anything a person can type."""
        if not terms(text):
            return Reading(Danger.NO, 0.0, ())
        probs, danger = self.model.predict([text])
        return self._reading(text, probs[0], float(danger[0]))

    def danger_score(self, probs: np.ndarray, p_danger: float) -> float:
        """How likely danger now is: the danger model, or the danger situations together.

        Either can see what the other misses; on the examples (cross-validated) taking the
        larger catches more danger for the same false alarms than either alone.
        """
        return max(p_danger, float(sum(probs[i] for i in self._danger)))

    def _reading(self, text: str, probs: np.ndarray, p_danger: float) -> Reading:
        p_danger = self.danger_score(probs, p_danger)
        order = np.argsort(-probs, kind="stable")
        ranked = tuple((self.labels[i], float(probs[i])) for i in order[:5])
        if p_danger >= DANGER_YES:
            danger = Danger.YES
        elif p_danger >= DANGER_ASK or safety.rules_say_danger(text):
            danger = Danger.MAYBE
        else:
            danger = Danger.NO
        best, p_best = ranked[0]
        top = self.situations[best]
        # "Get me out of here" can sound like danger: hiding the chat is what they asked for.
        if top.command and p_best >= COMMAND_MIN and (danger is Danger.NO or top.command == "exit"):
            return Reading(danger, p_danger, ranked, command=top.command)
        if top.danger and danger is Danger.YES:
            return Reading(danger, p_danger, ranked)  # the 999 card alone: nothing else now
        hits = self._hits(probs, top)
        if top.screen and p_best >= SCREEN_MIN and danger is Danger.NO:
            return Reading(danger, p_danger, ranked, hits, screen=top.screen)
        return Reading(danger, p_danger, ranked, hits, ask=self._ask(probs, ranked, hits))

    def who(self, probs: np.ndarray, group: str) -> float:
        """How likely the message is about `group` (own, girl, man...)."""
        return float(sum(probs[i] for i in self._who.get(group, [])))

    def _allowed(self, service: str, probs: np.ndarray, top: Situation) -> bool:
        """Whether the service is for the person the message is about."""
        groups = self.directory.services[service].groups
        if service not in self._own and self.who(probs, "own") >= WHO_MIN:
            return False
        for group, who in EXCLUSIVE.items():
            # Only for that group: the message must be most likely about it. The line for
            # people who harm needs that surely, even when it tops a close call: offered to
            # a victim it does harm, and an unsure reading asks who it is about instead.
            surely = who == "own" or top.who != who
            if group in groups and surely and self.who(probs, who) < WHO_MIN:
                return False
        if "women" in groups and self.who(probs, "man") >= WHO_MIN:
            return False
        young = "under-18s" in groups or "parents-carers" in groups
        return not (young and self.who(probs, "adult-at-risk") >= WHO_MIN)

    def _hits(self, probs: np.ndarray, top: Situation) -> tuple[Hit, ...]:
        scores: dict[str, float] = defaultdict(float)
        for i, p in enumerate(probs):
            if p < 0.02:
                continue
            for rank, sid in enumerate(self.situations[self.labels[i]].services):
                scores[sid] += float(p) * RANK_WEIGHTS[min(rank, len(RANK_WEIGHTS) - 1)]
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], self._order[kv[0]]))
        kept = [(sid, s) for sid, s in ranked if self._allowed(sid, probs, top)]
        return tuple(Hit(sid, round(100 * min(s, 1.0), 1)) for sid, s in kept[:MAX_HITS])

    def _ask(
        self, probs: np.ndarray, ranked: tuple[tuple[str, float], ...], hits: tuple[Hit, ...]
    ) -> Ask | None:
        """A question back when the reading is unsure, or None to show the services."""
        # Abuse that may be the person's own: ask, rather than offer a victim a perpetrators'
        # line or a perpetrator the victims' ones.
        if ASK_WHO <= self.who(probs, "own") < WHO_MIN:
            return Ask("who", WHO_OPTIONS)
        if ranked[0][1] >= UNSURE or not hits:
            return None
        topics: list[str] = []
        for sid, _p in ranked:
            for service in self.situations[sid].services[:1]:
                for topic in self.directory.services[service].topics[:1]:
                    if topic not in topics:
                        topics.append(topic)
        return Ask("topic", tuple(topics[:4])) if len(topics) >= 2 else None
