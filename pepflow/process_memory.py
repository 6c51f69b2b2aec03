"""How much memory a process and its children hold, sampled while they run.

``getrusage``'s peaks cannot say this for a product whose children come and go: for
the children it keeps only the largest one's peak, and a child started by ``spawn`` is
forked before it runs its own interpreter, so for that moment its resident memory is
its parent's (shared, copied only on write). Once document workers were replaced
during a year (:mod:`pepflow.documents.spin_pool`), a 100-child year's
"this process's peak plus its largest child's" read 762 MiB while the process tree
never held more than 650. :class:`PeakMemory` instead adds up the resident memory of
the process and its descendants as they are, twice a second, from ``/proc`` (Linux;
elsewhere it reports nothing rather than a guess).
"""

from __future__ import annotations

import os
import threading

__all__ = ["PeakMemory", "tree_rss"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found.extend(int(child) for child in listing.read().split())
        except OSError:  # a thread or the process ended meanwhile
            continue
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):  # ended meanwhile
        return 0


def tree_rss(pid: int | None = None) -> int | None:
    """Resident bytes of ``pid`` (default: this process) and all its descendants now;
    ``None`` where there is no ``/proc``."""
    pid = os.getpid() if pid is None else pid
    if not os.path.isdir(f"/proc/{pid}"):
        return None
    total, todo, seen = 0, [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        total += _rss(current)
        todo.extend(_children(current))
    return total


class PeakMemory:
    """The largest :func:`tree_rss` of ``pid`` seen between :meth:`start` and
    :meth:`stop`, sampled every ``interval`` seconds by a daemon thread."""

    def __init__(self, pid: int | None = None, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_bytes: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        now = tree_rss(self.pid)
        if now is not None:
            self.peak_bytes = max(self.peak_bytes or 0, now)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def start(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> int | None:
        """Stop sampling (after one last sample) and return the peak in bytes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        return self.peak_bytes
