"""Word documents and their password spins on the machine's other cores.

Protecting a Word file costs 100,000 SHA-512 rounds (:func:`protection._spin`), about
140 ms of one core, and nothing may make it cheaper: it is what makes guessing a
document's password slow. Rendering a form or a final PEP, reading a returned form
and filling one (the simulation's schools) are python-docx / lxml work of the same
kind. In one Python process all of it holds the interpreter, so while a document is
made or read the engine, the records and the other jobs wait. A ``DocumentPool``
runs these pure functions in worker processes instead:
the caller's thread waits for the result without holding the interpreter, and the rest
of the product goes on with the other core(s).

What crosses to a worker is what the function needs (a password and a salt for a
spin; the PEP's identity and content for a form; a returned file and the PEP's
reference for a read-back) and only its result comes back, through pipes between this
process and the children it spawned: nothing is written anywhere. With
``processes=0`` everything runs in the caller's thread (the tests' default, and a
one-core machine's).

The same result or the same exception either way: a worker's exception is raised here
with its type, message and attributes (an exception that would not survive the trip
is raised by running the call again here). A worker process that dies (killed, out
of memory) breaks the pool: the call it was doing is done again in the caller's
thread, a warning says so, and the next call starts a fresh pool. Nothing is lost and
no document goes out unprotected.

The workers can be replaced after a number of calls each (``recycle_after``; the
product's setting ``PEP_DOCUMENT_RECYCLE_AFTER``): what python-docx and lxml leave in
a worker is C memory it never gives back (a worker grew from about 70 MiB to 200 over a
2,000-child year; Python objects were 12 MiB of it). The old workers finish the calls
they were given and exit before the new ones start, so the two never hold memory at
once; a call still running after ``recycle_wait`` seconds does not hold every other
document up (the new workers start beside it, with a warning). ``max_tasks_per_child``
would do this per worker, but can deadlock on Python 3.11 (cpython gh-115634).
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from ..processes import spawn_context
from .protection import _spin, protect

log = logging.getLogger(__name__)

T = TypeVar("T")


def default_processes() -> int:
    """As many worker processes as the machine has cores (none on one core).

    One per core, not one fewer: the product's process spends much of a busy day
    waiting for documents, and a second worker keeps both cores working while it does
    (a 100-child year took 0.87-0.89 of the time with two workers instead of one on two
    cores; docs/simulate-speed-log.md). On one core a worker would only add the pickling."""
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


#: how much lower than the product's process the document workers run (``nice``):
#: the engine, the web pages and the final PDFs come first; the spins, forms and
#: read-backs take what is left of the cores (docs/simulate-speed-log.md, "Workers behind the product")
WORKER_NICENESS = 10


def _lower_priority(niceness: int) -> None:
    """A worker's initializer: run ``niceness`` steps below the product's process.
    Lowering one's own priority needs no privilege; where the system has no ``nice``
    the worker runs at the same priority and says so in the log."""
    try:
        os.nice(niceness)
    except (AttributeError, OSError) as exc:  # pragma: no cover - not on Linux
        log.warning("document worker runs at the product's priority: %s", exc)


class _RunHere:
    """A worker's answer "this call's exception would not arrive intact: run it again in
    the caller's process", where it raises the real one."""

    def __init__(self, why: str) -> None:
        self.why = why


def _in_worker(fn: Callable[..., T], args: tuple, kwargs: dict) -> T | _RunHere:
    """``fn(*args, **kwargs)`` in a worker process. An exception is sent back as it is
    only when a pickle round trip keeps its type and arguments."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        try:
            copy = pickle.loads(pickle.dumps(exc))
        except Exception as failed:  # noqa: BLE001 - any failure means: not intact
            return _RunHere(f"{type(exc).__name__} cannot be pickled ({type(failed).__name__})")
        if type(copy) is not type(exc) or copy.args != exc.args or vars(copy) != vars(exc):
            return _RunHere(f"{type(exc).__name__} does not survive pickling intact")
        raise


class DocumentPool:
    """Runs password spins and pure document functions in up to ``processes`` worker
    processes, started at the first call (a run that makes no document starts none),
    and replaced by fresh ones after ``recycle_after`` calls each (``None``: never)."""

    def __init__(self, processes: int | None = None, *, recycle_after: int | None = None,
                 recycle_wait: float = 60.0) -> None:
        processes = default_processes() if processes is None else processes
        if processes < 0:
            raise ValueError("the number of document processes cannot be negative")
        if recycle_after is not None and recycle_after < 1:
            raise ValueError("workers are recycled after at least one call each (or never: None)")
        self.processes = processes
        self.recycle_after = recycle_after
        self._executor: ProcessPoolExecutor | None = None
        self._submitted = 0  # calls given to the current workers
        self._running: set[Future] = set()  # ... and not finished yet
        #: how long replacing the workers waits for their last calls before new
        #: workers start beside a call still running (with a warning)
        self.recycle_wait = recycle_wait
        #: how many times the workers were replaced by fresh ones
        self.recycled = 0
        self._lock = threading.Lock()
        self._closed = False
        self.spun_in_pool = 0
        self.spun_here = 0
        #: the document functions (``run``) done by a worker process / in this one
        self.documents_in_pool = 0
        self.documents_here = 0
        #: the messages encoded (``encode``) by a worker process / in this one
        self.messages_in_pool = 0
        self.messages_here = 0

    def spin(self, password: str, salt: bytes) -> bytes:
        """The spin for ``password`` and ``salt``: in a worker process when there is a
        pool, in this thread when there is none or it broke."""
        return self._call(_spin, (password, salt), {}, "spun")

    def protect(self, docx: bytes, password: str) -> bytes:
        """:func:`protection.protect` with its spin, all of it in a worker process when
        there is a pool (the zip and AES work too): counted as one spin."""
        if self.processes == 0:
            return protect(docx, password, spin=self.spin)
        return self._call(protect, (docx, password), {}, "spun")

    def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker process when there is a pool, else here.
        ``fn`` is a module-level function and its arguments and result can be pickled;
        it must be pure (what it changes in a worker stays there). A call that raises
        counts where it ran, as one that returns."""
        return self._call(fn, args, kwargs, "documents")

    def encode(self, fn: Callable[..., T], /, *args: Any) -> T:
        """``fn(*args)`` as :meth:`run` does it, counted as a message encoded (a message
        carrying a protected file), not a document."""
        return self._call(fn, args, {}, "messages")

    def _call(self, fn: Callable[..., T], args: tuple, kwargs: dict, counter: str) -> T:
        if self.processes > 0:
            future = executor = None
            try:
                executor, future = self._submit(fn, args, kwargs)  # refused at once by a broken pool
                result = future.result()
            except BrokenProcessPool as exc:
                self._discard(executor, exc, fn)
            except BaseException:
                # raised by fn in the worker (counted there), not a wait interrupted here
                if future is not None and future.done() and not future.cancelled() and future.exception() is not None:
                    self._count(f"{counter}_in_pool")
                raise
            else:
                if not isinstance(result, _RunHere):
                    self._count(f"{counter}_in_pool")
                    return result
                log.debug("%s: %s; run in this process", fn.__name__, result.why)
        self._count(f"{counter}_here")
        return fn(*args, **kwargs)

    def _count(self, name: str) -> None:
        with self._lock:  # callers are threads: a bare += could lose a count
            setattr(self, name, getattr(self, name) + 1)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _submit(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[ProcessPoolExecutor, Future]:
        """Give ``fn`` to the workers, replacing them first when they have done their
        share. Under the lock, so no call goes to workers being replaced."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the document pool is closed")
            executor = self._executor
            if (executor is not None and self.recycle_after is not None
                    and self._submitted >= self.recycle_after * self.processes):
                # the old workers finish what they were given and exit before new ones
                # start (up to recycle_wait: _retire), so the two do not hold memory at
                # once; the calls waiting here meanwhile would wait for them anyway
                self._executor = None
                self._retire(executor)
            executor = self._new_executor_locked()
            self._submitted += 1
            try:
                future = executor.submit(_in_worker, fn, args, kwargs)
                self._running.add(future)
                future.add_done_callback(self._running.discard)
                return executor, future
            except BrokenProcessPool:
                self._executor = None  # the caller warns and runs the call here
                executor.shutdown(wait=False, cancel_futures=True)
                raise

    def _retire(self, executor: ProcessPoolExecutor) -> None:
        """Let the old workers finish their calls and exit (under the lock). A call
        still running after ``recycle_wait`` seconds (a document that takes that long)
        does not hold every other document up: the new workers start beside it, and
        the log says so."""
        running, self._running = self._running, set()
        _done, still = wait(running, timeout=self.recycle_wait)
        if still:
            log.warning(
                "%d document call(s) still running after %g s; new document workers start beside them",
                len(still), self.recycle_wait,
            )
        executor.shutdown(wait=not still)
        self.recycled += 1
        log.debug("document workers replaced after %d calls", self._submitted)

    def _new_executor_locked(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the product's process has threads (the workers, the
            # outbox) and open database connections a forked child must not inherit;
            # nor does it run the ``pep`` script again (pepflow.processes)
            # at a lower priority: the product's process (the engine, the web
            # pages, the final PDFs) is the year's critical path and a user's wait
            self._executor = ProcessPoolExecutor(self.processes, mp_context=spawn_context(),
                                                 initializer=_lower_priority, initargs=(WORKER_NICENESS,))
            self._submitted = 0
        return self._executor

    def _discard(self, executor: ProcessPoolExecutor | None, exc: BaseException, fn: Callable[..., Any]) -> None:
        log.warning(
            "a document worker process died (%s) during %s; it runs again in the product's own process "
            "and the next call starts a new worker", type(exc).__name__, fn.__name__,
        )
        if executor is None:  # refused at submit: already set aside there
            return
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> DocumentPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

