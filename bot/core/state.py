"""What a turn works on and what it produces: the state inside a turn, the turn's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from bot.core.reports import Report
from bot.core.types import Reply, Session

Event = tuple[str, str]


class Turn(NamedTuple):
    """What one inbound event produced: the new session, replies, aggregate events, a report."""

    session: Session
    replies: list[Reply]
    events: list[Event]
    report: Report | None = None


class UnknownScreen(LookupError):
    """A choice id that names nothing the assistant can show."""


@dataclass
class State:
    """One turn in progress: the session it changes and what it has produced so far."""

    session: Session
    now: datetime
    replies: list[Reply] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    report: Report | None = None

    @property
    def draft(self) -> dict[str, str]:
        """The report form's answers so far."""
        return self.session.draft
