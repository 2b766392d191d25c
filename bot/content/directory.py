"""The service directory: topics and services from directory.yaml, validated strictly."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import phonenumbers
import yaml

from bot.content import yamlfile
from bot.content.corpus import FOR
from bot.content.hours import Hours, HoursError, parse_hours

MAX_LABEL = 24  # WhatsApp list rows allow 24 characters; every channel shares the limit
BADGES = ("free", "anonymous", "women_only", "under_18", "young_people")
SHORT_CODES = frozenset({"999", "101", "112", "111"})
_ID = re.compile(r"^[a-z][a-z0-9-]*$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_URL = re.compile(r"^https://[A-Za-z0-9.-]+\.[a-z]{2,}(/\S*)?$")
_SERVICE_FIELDS = {
    "id", "name", "short", "summary", "audience", "topics", "badges", "phones", "hours",
    "web", "email", "address", "source", "for",
}  # fmt: skip
_PHONE_FIELDS = {"number", "label", "hours", "out_of_hours"}


class DirectoryError(ValueError):
    """directory.yaml is wrong; the message lists every problem with its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Phone:
    """A number to call, with its own hours where they differ."""

    number: str
    label: str = ""
    hours: Hours | None = None
    out_of_hours: bool = False


@dataclass(frozen=True)
class Service:
    """One service a person can be sent to."""

    id: str
    name: str
    summary: str
    audience: str = ""
    short: str = ""
    topics: tuple[str, ...] = ()
    badges: tuple[str, ...] = ()
    phones: tuple[Phone, ...] = ()
    hours: Hours | None = None
    web: str = ""
    email: str = ""
    address: str = ""
    groups: tuple[str, ...] = ()  # who it is for (`for:`), when only some people may use it

    @property
    def label(self) -> str:
        """The name on a button."""
        return self.short or self.name

    def is_open(self, when: datetime) -> bool | None:
        """Whether someone answers now; None when the Plan gives no hours."""
        timed = [p for p in self.phones if p.hours]
        if self.hours is None and not timed:
            return None
        if self.hours is not None and self.hours.is_open(when):
            return True
        if any(p.hours is not None and p.hours.is_open(when) for p in timed):
            return True
        # An out-of-hours line answers exactly when the others are closed.
        return any(p.out_of_hours for p in self.phones)


@dataclass(frozen=True)
class Topic:
    """A subject a person may need help with."""

    id: str
    name: str
    summary: str
    short: str = ""
    first: tuple[str, ...] = ()  # services shown first, in this order; the rest follow
    # About violence, abuse, young people or safeguarding: its screens offer quick exit and
    # the one-line 999 reminder.
    sensitive: bool = False

    @property
    def label(self) -> str:
        """The name on a button."""
        return self.short or self.name


@dataclass
class Directory:
    """Every topic and service, in the order staff wrote them."""

    topics: dict[str, Topic] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    @property
    def sensitive_topics(self) -> frozenset[str]:
        """The topics whose screens offer quick exit and the 999 reminder."""
        return frozenset(t.id for t in self.topics.values() if t.sensitive)

    def in_topic(self, topic_id: str) -> list[Service]:
        """The services listed under a topic: the topic's `first` ones, then the others."""
        listed = [s for s in self.services.values() if topic_id in s.topics]
        first = self.topics[topic_id].first if topic_id in self.topics else ()
        rank = {sid: i for i, sid in enumerate(first)}
        return sorted(listed, key=lambda s: rank.get(s.id, len(rank)))


def valid_phone(number: str) -> bool:
    """Whether `number` is a dialable UK number or emergency short code, written sensibly."""
    if number in SHORT_CODES:
        return True
    if not re.fullmatch(r"0\d{2,4}( ?\d{2,4}){1,3}", number):
        return False
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(number, "GB")))
    except phonenumbers.NumberParseException:
        return False


class _Checker:
    """Collects problems instead of stopping at the first, so staff can fix them all at once."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{self.source}: {where}: {message}")

    def text(self, raw: dict[str, Any], key: str, where: str, required: bool = True) -> str:
        value = raw.get(key)
        if value is None:
            if required:
                self.add(where, f"`{key}` is missing")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.add(f"{where}.{key}", "must be non-empty text")
            return ""
        return value.strip()

    def hours(self, raw: Any, where: str) -> Hours | None:
        if raw is None:
            return None
        try:
            return parse_hours(raw, where)
        except HoursError as exc:
            self.add(where, str(exc).removeprefix(f"{where}: "))
            return None


def parse_directory(data: Any, source: str = "directory.yaml") -> Directory:
    """Build a Directory from parsed YAML, or raise DirectoryError naming every problem."""
    check = _Checker(source)
    directory = Directory()
    if not isinstance(data, dict):
        raise DirectoryError([f"{source}: expected a mapping with `topics` and `services`"])
    for i, raw in enumerate(data.get("topics") or []):
        where = f"topics[{i}]"
        if not isinstance(raw, dict):
            check.add(where, "must be a mapping")
            continue
        tid = str(raw.get("id", ""))
        where = f"topic {tid or i}"
        for key in sorted(set(raw) - {"id", "name", "short", "summary", "first", "sensitive"}):
            check.add(where, f"unknown field `{key}`")
        if not _ID.match(tid):
            check.add(where, "`id` must be lowercase letters, digits and hyphens")
        if tid in directory.topics:
            check.add(where, "duplicate id")
        first = raw.get("first") or []
        if not isinstance(first, list) or not all(isinstance(f, str) for f in first):
            check.add(where, "`first` must be a list of service ids")
            first = []
        directory.topics[tid] = Topic(
            tid,
            check.text(raw, "name", where),
            check.text(raw, "summary", where),
            _short(check, raw, where),
            tuple(first),
            raw.get("sensitive") is True,
        )
    for i, raw in enumerate(data.get("services") or []):
        service = _parse_service(raw, i, check, directory)
        if service is not None:
            directory.services[service.id] = service
    for topic_id, topic in directory.topics.items():
        if not directory.in_topic(topic_id):
            check.add(f"topic {topic_id}", "no service lists this topic")
        for sid in topic.first:
            if sid not in directory.services or topic_id not in directory.services[sid].topics:
                check.add(f"topic {topic_id}", f"`first` names {sid}, which is not in this topic")
    if check.problems:
        raise DirectoryError(check.problems)
    return directory


def _parse_service(raw: Any, i: int, check: _Checker, directory: Directory) -> Service | None:
    if not isinstance(raw, dict):
        check.add(f"services[{i}]", "must be a mapping")
        return None
    sid = str(raw.get("id", ""))
    where = f"service {sid or i}"
    if not _ID.match(sid):
        check.add(where, "`id` must be lowercase letters, digits and hyphens")
    if sid in directory.services:
        check.add(where, "duplicate id")
    for key in sorted(set(raw) - _SERVICE_FIELDS):
        check.add(where, f"unknown field `{key}`")
    topics = raw.get("topics") or []
    if not topics:
        check.add(where, "`topics` needs at least one topic")
    for t in topics:
        if t not in directory.topics:
            check.add(f"{where}.topics", f"unknown topic `{t}`")
    for b in raw.get("badges") or []:
        if b not in BADGES:
            check.add(f"{where}.badges", f"unknown badge `{b}` (use {', '.join(BADGES)})")
    groups = raw.get("for") or []
    for g in groups:
        if g not in FOR:
            check.add(f"{where}.for", f"unknown group `{g}` (use {', '.join(FOR)})")
    phones = []
    for j, p in enumerate(raw.get("phones") or []):
        at = f"{where}.phones[{j}]"
        if not isinstance(p, dict) or "number" not in p:
            check.add(at, "needs a `number`")
            continue
        for key in sorted(set(p) - _PHONE_FIELDS):
            check.add(at, f"unknown field `{key}`")
        number = str(p["number"])
        if not valid_phone(number):
            check.add(f"{at}.number", f"{number!r} is not a valid UK phone number")
        phones.append(
            Phone(
                number,
                check.text(p, "label", at, required=False),
                check.hours(p.get("hours"), f"{at}.hours"),
                bool(p.get("out_of_hours", False)),
            )
        )
    email = check.text(raw, "email", where, required=False)
    if email and not _EMAIL.match(email):
        check.add(f"{where}.email", f"{email!r} is not an email address")
    web = check.text(raw, "web", where, required=False)
    if web and not _URL.match(web):
        check.add(f"{where}.web", f"{web!r} must be a full https:// link")
    if not (phones or email or web):
        check.add(where, "needs at least one way to get in touch (phones, email or web)")
    return Service(
        id=sid,
        name=check.text(raw, "name", where),
        summary=check.text(raw, "summary", where),
        audience=check.text(raw, "audience", where, required=False),
        topics=tuple(topics),
        badges=tuple(raw.get("badges") or ()),
        phones=tuple(phones),
        hours=check.hours(raw.get("hours"), f"{where}.hours"),
        web=web,
        email=email,
        address=check.text(raw, "address", where, required=False),
        short=_short(check, raw, where),
        groups=tuple(groups),
    )


def _short(check: _Checker, raw: dict[str, Any], where: str) -> str:
    """A button name: `short`, or `name` when it fits."""
    short = check.text(raw, "short", where, required=False) or str(raw.get("name", ""))
    if len(short) > MAX_LABEL:
        check.add(where, f"name is over {MAX_LABEL} characters: add a `short:` name for buttons")
    return short


def load_directory(path: Path) -> Directory:
    """Read and validate directory.yaml."""
    try:
        data = yamlfile.parse(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DirectoryError([f"{path.name}: not valid YAML: {exc}"]) from exc
    return parse_directory(data, path.name)
