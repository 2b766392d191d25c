"""Reading what a person typed: which situation it is about, and whether someone is in danger now.

The learned models (bot.understanding.model) give each situation, and danger now, a
probability; this turns those into a reading: the card, a question back, or the services that
fit who is asking. Word rules (bot.understanding.rules) add recall for danger: they make the
assistant ask, never raise the card alone.
"""

from __future__ import annotations

import enum
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.content.corpus import (
    EXCLUSIVE,
    Situation,
)
from bot.content.directory import Directory
from bot.content.loader import Content
from bot.understanding import rules as safety
from bot.understanding.model import Model, load_model
from bot.understanding.text import terms

log = logging.getLogger("bot.understanding.reader")


# Danger now: at or above YES the emergency card comes first; between ASK and YES the person
# is asked "Is someone in danger right now?". Chosen on the development sets (bench/heldout5,
# heldout6 and heldout7 together, whose misses were read), never on a set whose figures are
# reported: 0.6 is the lowest that kept harmless messages bringing the card under 3% in every
# language, and at 0.2 every danger-now message there is at least asked about.
DANGER_YES = 0.6
DANGER_ASK = 0.2
# With 85 situations the probabilities spread thin; these were chosen by cross-validation on
# the examples: a command or screen this likely is right 9 times in 10 and fires on under 0.5%
# of other messages, and below UNSURE the best situation is right only one time in four.
COMMAND_MIN = 0.3  # words taken as a command ("forget me"): forget still asks to confirm
# "Delete everything and get out": when "forget me" leads but leaving is this likely too, the
# person asked to go, so quick exit (which clears the chat) comes first. On the development
# sets no plain "forget me" reaches it.
EXIT_TOO = 0.25
SCREEN_MIN = 0.35  # a tips screen or the report form
UNSURE = 0.2  # below this for the best situation, ask which is closest instead of guessing
WHO_MIN = 0.5  # a service for one group only, when the message is about that group this surely
NOT_TENANT = 0.3  # a private renter or owner this likely: not offered the council tenants' line
NOT_YOUNG = 0.3  # an older or disabled adult this likely, and more than a young person
ASK_WHO = 0.15  # own behaviour this likely, but under WHO_MIN: ask who it is about
# A situation's later services are a little less likely to be the one a person needs.
RANK_WEIGHTS = (1.0, 0.9, 0.8, 0.7, 0.6)
MAX_HITS = 3
# The question "Who is this about?" offers these situations: about me, someone I know, my own
# behaviour.
WHO_OPTIONS = ("abuse.partner", "abuse.partner.other", "abuse.own")


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


def load_understanding(content: Content, cache: Path | None = None) -> Understanding:
    """The understanding of `content`'s examples, trained or from the cache."""
    model = load_model(content.root, content.situations, cache)
    rules = safety.DangerRules(content.danger_words)
    return Understanding(content.directory, content.situations, model, rules)


class Understanding:
    """Turns a message into a Reading: danger now, the situation, the services that fit."""

    def __init__(
        self,
        directory: Directory,
        situations: dict[str, Situation],
        model: Model,
        rules: safety.DangerRules,
    ) -> None:
        self.directory = directory
        self.situations = situations
        self.model = model
        self.rules = rules
        self.labels: list[str] = model.classes
        # Ties go to the service staff listed first; fixed at start-up, so computed once.
        self._order = {sid: i for i, sid in enumerate(directory.services)}
        self._danger = [i for i, s in enumerate(self.labels) if situations[s].danger]
        self._who = {g: [i for i, s in enumerate(self.labels) if situations[s].who == g]
                     for g in {s.who for s in situations.values() if s.who}}  # fmt: skip
        self._exit = self.labels.index("command.exit")
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
        elif p_danger >= DANGER_ASK or self.rules.say_danger(text):
            danger = Danger.MAYBE
        else:
            danger = Danger.NO
        best, p_best = ranked[0]
        top = self.situations[best]
        # "Get me out of here" can sound like danger: hiding the chat is what they asked for.
        command = top.command
        if command == "forget" and probs[self._exit] >= EXIT_TOO:
            command = "exit"
        if command and p_best >= COMMAND_MIN and (danger is Danger.NO or command == "exit"):
            return Reading(danger, p_danger, ranked, command=command)
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
        # A person who says they rent privately or own their home cannot use the council
        # tenants' line: offering it sends them to a form that turns them away.
        if "council-tenants" in groups and self.who(probs, "private") >= NOT_TENANT:
            return False
        # Young people's services are not for an older or disabled adult: "my son takes my
        # pension for drugs" is about the parent, not a young person's drug use.
        young = "under-18s" in groups or "parents-carers" in groups
        older = self.who(probs, "adult-at-risk")
        return not (young and older >= NOT_YOUNG and older > self.who(probs, "young"))

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
