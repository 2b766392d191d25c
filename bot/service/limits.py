"""Sliding-window limits on one person: messages a minute and in a burst, reports a quarter hour."""

from __future__ import annotations

from collections import deque

PEOPLE_KEPT = 10_000  # past this many people, those with nothing in the window are forgotten


class Window:
    """When each person did something in the last `seconds`: at most `most` times."""

    def __init__(self, most: int, seconds: float) -> None:
        self.most = most
        self.seconds = seconds
        self._times: dict[str, deque[float]] = {}

    def count(self, key: str, now: float) -> int:
        """How many times within the window (older ones are dropped)."""
        times = self._times.get(key)
        if times is None:
            return 0
        while times and now - times[0] > self.seconds:
            times.popleft()
        if not times:
            del self._times[key]
        return len(times)

    def full(self, key: str, now: float) -> bool:
        """Whether the person has used up the window."""
        return self.count(key, now) >= self.most

    def add(self, key: str, now: float) -> None:
        """Count one more time."""
        self._times.setdefault(key, deque()).append(now)
        if len(self._times) > PEOPLE_KEPT:  # forget people who have gone quiet
            self._times = {k: q for k, q in self._times.items() if now - q[-1] <= self.seconds}

    def take(self, key: str, now: float) -> bool:
        """Count one more time if there is room; False (and nothing counted) when full."""
        if self.full(key, now):
            return False
        self.add(key, now)
        return True


class Limits:
    """Several windows at once (so many a minute, and fewer within seconds): room in each."""

    def __init__(self, *windows: Window) -> None:
        self.windows = windows

    def take(self, key: str, now: float) -> bool:
        """Count one more time in every window if each has room; False (nothing counted) if not."""
        if any(window.full(key, now) for window in self.windows):
            return False
        for window in self.windows:
            window.add(key, now)
        return True
