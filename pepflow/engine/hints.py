"""What the engine knows about its own waiting work, so the runtime need not ask the
database on every round whether a job or a timer is there.

``run_until_idle`` used to read the activatable job types and the earliest due timer
on every round, even when no operation had happened since the last read: in a
simulated year most of those reads found nothing. :class:`WorkHints` keeps what the
last read answered and what every operation since then changed:

- jobs: the types that may have a job ready now (a superset: a type stays in it until
  an activation takes fewer jobs than it asked for), and the earliest instant a job may
  become ready by time alone (a backoff ending, an activation timing out);
- timers: a lower bound of the earliest timer's due time (a new or moved timer lowers
  it; a removed one leaves it low, which only costs a read).

Every operation that makes a job ready or creates or moves a timer records it on its
``_Op`` (:mod:`.reconcile`, :mod:`.jobs`, :mod:`.operations`) and the core applies it
here after the commit, under the operation lock; a rolled-back operation changes
nothing. A read that raced an operation's commit is not kept (the generation check).

Another process may write the same database (``pep event`` beside a running
``pep up``): what it changes is not seen here, so hints older than :data:`MAX_AGE`
seconds of real time are forgotten and read again, and ``serve`` forgets them on every
wake-up, as often as it used to read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime

# seconds of real time (not the engine's clock, which a simulation moves by days) after
# which what another process may have written is read again
MAX_AGE = 5.0


class WorkHints:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.generation = 0
        self._jobs_known = False
        self._ready: set[str] = set()
        self._jobs_until: datetime | None = None
        self._jobs_read_at = 0.0
        self._timers_known = False
        self._timer_due: datetime | None = None
        self._timers_read_at = 0.0

    def forget(self) -> None:
        """Read both again next time (another process may have written)."""
        with self._lock:
            self.generation += 1
            self._jobs_known = self._timers_known = False

    # ------------------------------------------------------------------ jobs
    def ready_job_types(self, now: datetime) -> set[str] | None:
        """The types that may have a job ready at ``now``, or None: read them."""
        with self._lock:
            if not self._jobs_known or time.monotonic() - self._jobs_read_at > MAX_AGE:
                return None
            if self._jobs_until is not None and now >= self._jobs_until:
                return None
            return set(self._ready)

    def jobs_read(self, generation: int, ready: Iterable[str], until: datetime | None) -> None:
        """What a read begun at ``generation`` found: kept unless an operation committed since."""
        with self._lock:
            if generation != self.generation:
                return
            self._jobs_known = True
            self._ready = set(ready)
            self._jobs_until = until
            self._jobs_read_at = time.monotonic()

    # ---------------------------------------------------------------- timers
    def timers_may_be_due(self, now: datetime) -> bool:
        with self._lock:
            if not self._timers_known or time.monotonic() - self._timers_read_at > MAX_AGE:
                return True
            return self._timer_due is not None and now >= self._timer_due

    def timers_read(self, generation: int, earliest: datetime | None) -> None:
        """The earliest timer a read begun at ``generation`` found not yet due (None: no timer)."""
        with self._lock:
            if generation != self.generation:
                return
            self._timers_known = True
            self._timer_due = earliest
            self._timers_read_at = time.monotonic()

    # ------------------------------------------------------ after an operation
    def committed(self, *, new_job_types: set[str], drained_job_types: set[str], job_due: datetime | None,
                  timer_due: datetime | None, unknown: bool) -> None:
        """Apply what one committed operation changed (called in commit order)."""
        with self._lock:
            self.generation += 1
            if unknown:
                self._jobs_known = self._timers_known = False
                return
            self._ready -= drained_job_types
            self._ready |= new_job_types
            if job_due is not None and (self._jobs_until is None or job_due < self._jobs_until):
                self._jobs_until = job_due
            if timer_due is not None and (self._timer_due is None or timer_due < self._timer_due):
                self._timer_due = timer_due
