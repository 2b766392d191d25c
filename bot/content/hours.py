"""Opening hours: parsing, "open now" in London time with bank holidays, and wording."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SETS = {
    "daily": frozenset(range(7)),
    "mon-fri": frozenset(range(5)),
    "sat-sun": frozenset({5, 6}),
}


class HoursError(ValueError):
    """Opening hours that cannot be understood."""


@dataclass(frozen=True)
class Interval:
    """Open from `start` to `end` on the given weekdays (0 = Monday); may run past midnight."""

    days: frozenset[int]
    start: time
    end: time

    @property
    def overnight(self) -> bool:
        """Whether the interval ends after midnight."""
        return self.end <= self.start


@dataclass(frozen=True)
class Hours:
    """When a service or phone line answers."""

    always: bool = False
    intervals: tuple[Interval, ...] = ()
    bank_holidays_open: bool = True

    def is_open(self, when: datetime) -> bool:
        """Whether it is open at `when` (converted to London time)."""
        if self.always:
            return True
        local = when.astimezone(LONDON)
        today, now = local.date(), local.time()
        for iv in self.intervals:
            if self._runs_on(iv, today) and now >= iv.start and (iv.overnight or now < iv.end):
                return True
            # The small hours belong to the previous day's overnight interval.
            yesterday = today - timedelta(days=1)
            if iv.overnight and self._runs_on(iv, yesterday) and now < iv.end:
                return True
        return False

    def _runs_on(self, iv: Interval, day: date) -> bool:
        if day.weekday() not in iv.days:
            return False
        return self.bank_holidays_open or not is_bank_holiday(day)


@cache
def _england_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_bank_holiday(day: date) -> bool:
    """Whether `day` is a bank holiday in England (substitute days included)."""
    return day in _england_holidays(day.year)


def _parse_time(value: Any, where: str) -> time:
    try:
        hh, mm = str(value).split(":")
        return time(int(hh) % 24, int(mm)) if int(hh) <= 24 else time(99)
    except ValueError as exc:
        raise HoursError(f"{where}: {value!r} is not a time like 09:00") from exc


def _parse_days(value: Any, where: str) -> frozenset[int]:
    if isinstance(value, str) and value in _DAY_SETS:
        return _DAY_SETS[value]
    if isinstance(value, list) and value and all(d in DAY_NAMES for d in value):
        return frozenset(DAY_NAMES.index(d) for d in value)
    raise HoursError(f"{where}: days must be daily, mon-fri, sat-sun or a list like [mon, tue]")


def parse_hours(raw: Any, where: str = "hours") -> Hours:
    """Read the directory's hours form: `always`, or `open:` intervals plus `bank_holidays:`."""
    if raw == "always":
        return Hours(always=True)
    if not isinstance(raw, dict) or not isinstance(raw.get("open"), list) or not raw["open"]:
        raise HoursError(f"{where}: expected `always` or a mapping with a non-empty `open:` list")
    unknown = set(raw) - {"open", "bank_holidays"}
    if unknown:
        raise HoursError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    intervals = []
    for i, item in enumerate(raw["open"]):
        at = f"{where}.open[{i}]"
        if not isinstance(item, dict) or set(item) != {"days", "from", "to"}:
            raise HoursError(f"{at}: needs exactly days, from and to")
        start, end = _parse_time(item["from"], f"{at}.from"), _parse_time(item["to"], f"{at}.to")
        if start == end:
            raise HoursError(f"{at}: from and to are the same time")
        intervals.append(Interval(_parse_days(item["days"], f"{at}.days"), start, end))
    bank = raw.get("bank_holidays", "open")
    if bank not in ("open", "closed"):
        raise HoursError(f"{where}.bank_holidays: must be open or closed, not {bank!r}")
    return Hours(intervals=tuple(intervals), bank_holidays_open=bank == "open")
