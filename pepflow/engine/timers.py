"""Timers: when the next one is due, firing the due ones (earliest first, also those
that fell due while the engine was stopped), and walking a simulation clock through
them in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from . import statements as q
from .shared import _aware

if TYPE_CHECKING:  # pragma: no cover
    from .core import EngineCore


class Timers:
    def __init__(self, core: EngineCore) -> None:
        self.core = core

    def next_timer_due(self) -> datetime | None:
        with self.core.store.read() as conn:
            value = conn.execute(q.NEXT_TIMER_DUE).scalar()
        return _aware(value)

    def fire_due_timers(self, limit: int = 1000) -> int:
        """Fire every timer that is due now, earliest first; return how many instances
        moved. A timer that fell due while the engine was stopped fires here too."""
        fired = 0
        while fired < limit:
            now = self.core.clock.now()
            with self.core.store.read() as conn:
                row = conn.execute(q.DUE_TIMER, {"b_now": now}).first()
            if row is None:
                break
            with self.core.operation() as op:
                live = self.core.modify(op, row.instance_key)
                live.workflow.refresh_timers()
                self.core.waits.step(op, live)
            fired += 1
        return fired

    def advance_to(self, target: datetime) -> None:
        """SimulationClock listener: walk the clock through due timers in order."""
        clock = self.core.clock
        while True:
            due = self.next_timer_due()
            if due is None or due > target:
                break
            if due > clock.now():
                clock.set(due)
            self.fire_due_timers()
        if clock.now() < target:
            clock.set(target)
