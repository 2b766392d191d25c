"""The situations people write about and each language's labelled examples of them."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.content import yamlfile
from bot.content.i18n import LANGS

# Whose situation it is, where that decides which services fit (situations.yaml `who`).
WHO = ("own", "girl", "young", "man", "adult-at-risk", "tenant", "private")
# Who a service is for (directory.yaml `for`).
FOR = (
    "women", "girls-13-17", "under-18s", "parents-carers", "own-behaviour", "council-tenants",
    "adults-at-risk",
)  # fmt: skip
# A service for one of these groups only is listed only under situations of that group:
# a victim must never be offered a line for people who harm, nor a boy a girls' service.
EXCLUSIVE = {"own-behaviour": "own", "girls-13-17": "girl"}
COMMANDS = ("forget", "exit", "language", "menu", "privacy")
# Services reached another way: 999 is the emergency card that danger now brings.
UNLISTED = frozenset({"police-emergency"})
# Fewer examples than this for a situation in a language, and `bot directory check` warns:
# the assistant would find that situation by few of the words people use for it.
MIN_EXAMPLES = 12


@dataclass(frozen=True)
class Situation:
    """Something a person may be writing about, and what answers it."""

    id: str
    about: str
    services: tuple[str, ...] = ()
    danger: bool = False
    who: str | None = None
    screen: str | None = None
    command: str | None = None


@dataclass(frozen=True)
class Example:
    """One thing a resident might write, labelled with its situation."""

    text: str
    situation: str
    lang: str


class CorpusError(ValueError):
    """situations.yaml or an examples file is wrong; lists every problem with its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_situations(path: Path) -> dict[str, Situation]:
    """The situations, in the order staff wrote them."""
    raw = yamlfile.parse(path.read_text(encoding="utf-8")) or {}
    out: dict[str, Situation] = {}
    problems = []
    for i, item in enumerate(raw.get("situations") or []):
        sid = str(item.get("id", ""))
        if not sid or sid in out:
            problems.append(f"{path.name}: situation {i + 1}: missing or repeated id {sid!r}")
            continue
        out[sid] = Situation(
            id=sid,
            about=str(item.get("about", "")),
            services=tuple(item.get("services") or ()),
            danger=bool(item.get("danger", False)),
            who=item.get("who"),
            screen=item.get("screen"),
            command=item.get("command"),
        )
    if problems:
        raise CorpusError(problems)
    return out


def examples_paths(locales: Path, lang: str) -> list[Path]:
    """A language's example files: examples.yaml, and any examples-<name>.yaml beside it."""
    return sorted((locales / lang).glob("examples*.yaml"))


def load_examples(locales: Path) -> list[Example]:
    """Every language's examples, in file order (so training is the same every time)."""
    out = []
    for lang in LANGS:
        for path in examples_paths(locales, lang):
            text = path.read_text(encoding="utf-8")
            data: dict[str, Any] = yamlfile.parse(text) or {}
            for sid, texts in (data.get("examples") or {}).items():
                out += [Example(str(t), str(sid), lang) for t in texts or []]
    return out


def fingerprint(paths: list[Path], extra: str = "") -> str:
    """A short hash of the files a model is trained from: a change means training again."""
    digest = hashlib.sha256(extra.encode())
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def check(
    situations: dict[str, Situation],
    examples: list[Example],
    services: dict[str, tuple[str, ...]],
    screens: set[str],
) -> tuple[list[str], list[str]]:
    """(problems, warnings): problems stop the assistant; warnings name thin situations.

    `services` maps each service id to who it is for (its `for` groups).
    """
    problems: list[str] = []
    for s in situations.values():
        where = f"situations.yaml: {s.id}"
        kinds = sum(bool(x) for x in (s.services, s.danger, s.screen, s.command))
        if kinds != 1:
            problems.append(f"{where}: give exactly one of services, danger, screen, command")
        if s.who is not None and s.who not in WHO:
            problems.append(f"{where}: who {s.who!r} is not one of {', '.join(WHO)}")
        if s.command is not None and s.command not in COMMANDS:
            problems.append(f"{where}: command {s.command!r} is not one of {', '.join(COMMANDS)}")
        if s.screen is not None and s.screen not in screens:
            problems.append(f"{where}: screen {s.screen!r} is not in flows/")
        for sid in s.services:
            if sid not in services:
                problems.append(f"{where}: unknown service {sid!r}")
                continue
            for group, who in EXCLUSIVE.items():
                if group in services[sid] and s.who != who:
                    problems.append(
                        f"{where}: {sid} is only for {group}, so the situation needs `who: {who}`"
                    )
    seen: dict[tuple[str, str], str] = {}
    counts: Counter[tuple[str, str]] = Counter()
    for ex in examples:
        where = f"locales/{ex.lang}/examples: {ex.situation}"
        if ex.situation not in situations:
            problems.append(f"{where}: no such situation in situations.yaml")
            continue
        if not ex.text.strip():
            problems.append(f"{where}: an empty example")
            continue
        key = (ex.lang, " ".join(ex.text.casefold().split()))
        if key in seen and seen[key] != ex.situation:
            problems.append(f"{where}: {ex.text!r} is also an example of {seen[key]}")
        seen[key] = ex.situation
        counts[(ex.lang, ex.situation)] += 1
    warnings = []
    langs = sorted({ex.lang for ex in examples})
    for lang in langs:
        for sid in situations:
            n = counts[(lang, sid)]
            if n < MIN_EXAMPLES:
                warnings.append(
                    f"locales/{lang}: {sid} has {n} examples; "
                    f"write at least {MIN_EXAMPLES} so people's own words find it"
                )
    # A service is found through the situations that list it: by people's words, not its name.
    for service in services:
        listed = [s.id for s in situations.values() if service in s.services]
        if not listed and service not in UNLISTED:
            warnings.append(
                f"situations.yaml: no situation lists {service}, so no message can find it"
            )
        for lang in langs:
            n = sum(counts[(lang, sid)] for sid in listed)
            if listed and n < MIN_EXAMPLES:
                warnings.append(
                    f"locales/{lang}: only {n} examples find {service}; write more under "
                    f"{', '.join(listed)}"
                )
    return problems, warnings


# The danger-now word lists, by kind (see danger-words.yaml).
DANGER_KINDS = ("now", "weapons", "here", "crime", "held", "held_starts", "calm")


def load_danger_words(path: Path) -> dict[str, tuple[str, ...]]:
    """danger-words.yaml's lists; raises CorpusError naming what is wrong."""
    data = yamlfile.parse(path.read_text(encoding="utf-8")) or {}
    words = data.get("words") if isinstance(data, dict) else None
    words = words if isinstance(words, dict) else {}
    problems = [
        f"{path.name}: `{k}` is not a kind of danger word" for k in set(words) - set(DANGER_KINDS)
    ]
    found: dict[str, tuple[str, ...]] = {}
    for kind in DANGER_KINDS:
        listed = words.get(kind)
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(w, str) and w.strip() for w in listed)
        ):
            problems.append(f"{path.name}: `{kind}` needs a list of words")
            continue
        found[kind] = tuple(listed)
    if problems:
        raise CorpusError(sorted(problems))
    return found
