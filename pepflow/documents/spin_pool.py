"""Word's password spins on the machine's other cores.

Protecting a Word file costs 100,000 SHA-512 rounds (:func:`protection._spin`), about
140 ms of one core, and nothing may make it cheaper: it is what makes guessing a
document's password slow. In one Python process it also holds the interpreter, so
while a file is protected the engine, the records and the other jobs wait. A
``SpinPool`` runs the spins in worker processes instead: the caller's thread waits
for the 64-byte result without holding the interpreter, and the rest of the product
goes on with the other core(s).

Only the password and a fresh random salt cross to the worker, and only the hash
chain's end comes back; the document, its key and everything derived from it stay in
the caller's process. With ``processes=0`` the spins run in the caller's thread (the
tests' default, and a one-core machine's).

A worker process that dies (killed, out of memory) breaks the pool: the spin it was
doing is done again in the caller's thread, a warning says so, and the next spin
starts a fresh pool. Nothing is lost and no document goes out unprotected.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .protection import _spin

log = logging.getLogger(__name__)


def default_processes() -> int:
    """One worker process fewer than the machine has cores (none on one core)."""
    return max(0, (os.cpu_count() or 1) - 1)


class SpinPool:
    """Runs :func:`protection._spin` in up to ``processes`` worker processes, started
    when the first document is protected (a run that sends nothing starts none)."""

    def __init__(self, processes: int | None = None) -> None:
        processes = default_processes() if processes is None else processes
        if processes < 0:
            raise ValueError("the number of spin processes cannot be negative")
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.spun_in_pool = 0
        self.spun_here = 0

    def spin(self, password: str, salt: bytes) -> bytes:
        """The spin for ``password`` and ``salt``: in a worker process when there is a
        pool, in this thread when there is none or it broke."""
        executor = self._pool()
        if executor is not None:
            try:
                result = executor.submit(_spin, password, salt).result()
            except BrokenProcessPool as exc:
                self._discard(executor, exc)
            else:
                with self._lock:  # callers are threads: a bare += could lose a count
                    self.spun_in_pool += 1
                return result
        with self._lock:
            self.spun_here += 1
        return _spin(password, salt)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _pool(self) -> ProcessPoolExecutor | None:
        if self.processes == 0:
            return None
        with self._lock:
            if self._closed:
                raise RuntimeError("the spin pool is closed")
            if self._executor is None:
                # spawn, not fork: the product's process has threads (the workers, the
                # outbox) and open database connections a forked child must not inherit
                self._executor = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))
            return self._executor

    def _discard(self, executor: ProcessPoolExecutor, exc: BaseException) -> None:
        log.warning(
            "a password-spin worker process died (%s); this document's spin runs in the product's own "
            "process and the next one starts a new worker", type(exc).__name__,
        )
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> SpinPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
