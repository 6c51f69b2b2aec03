"""Time for the whole product comes from an injected clock.

No other module reads the wall clock: deadlines, timers and audit stamps all ask a
:class:`Clock`, so a simulated academic year can run in seconds and tests can move
time by hand.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class SimulationClock:
    """A clock that only moves when told to.

    The engine listens to it: ``advance`` fires due timers in due-time order (the
    engine registers itself with :meth:`on_advance`).
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulationClock needs a timezone-aware start")
        self._now = start.astimezone(timezone.utc)
        self._lock = threading.Lock()
        self._listeners: list = []

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        """Move to ``instant`` without firing anything (used by the engine while it steps)."""
        if instant.tzinfo is None:
            raise ValueError("instant must be timezone-aware")
        with self._lock:
            if instant < self._now:
                raise ValueError("a simulation clock never goes backwards")
            self._now = instant.astimezone(timezone.utc)

    def on_advance(self, listener) -> None:
        """``listener(target)`` is called by :meth:`advance`; it moves the clock itself."""
        self._listeners.append(listener)

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("a simulation clock never goes backwards")
        target = self._now + delta
        for listener in list(self._listeners):
            listener(target)
        if self._now < target:
            self.set(target)
        return self._now
