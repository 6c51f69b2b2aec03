"""Password spins in worker processes: the same files as in-process, and a worker that
dies costs a warning and a spin done here, never a document sent unprotected."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import pytest

from pepflow.documents import protect, render_pep_form, unprotect
from pepflow.documents.protected_copies import ProtectedCopies
from pepflow.documents.protection import _spin
from pepflow.documents.spin_pool import WORKER_NICENESS, DocumentPool, default_processes

from .helpers import SECRET, content, identity

PASSWORD = "k7mq-2xfp-9rtc-4hwn"


def test_a_worker_process_spins_what_this_process_spins():
    salts = [os.urandom(16) for _ in range(3)]
    with DocumentPool(1) as pool:
        for salt in salts:
            assert pool.spin(PASSWORD, salt) == _spin(PASSWORD, salt)
        assert pool.spin("pässwörd-ünïcode", salts[0]) == _spin("pässwörd-ünïcode", salts[0])
        assert pool.spun_in_pool == 4 and pool.spun_here == 0


def test_a_file_protected_through_the_pool_opens_with_its_password():
    form = render_pep_form(identity(), content("school-age"), SECRET)
    with DocumentPool(1) as pool:
        protected = protect(form, PASSWORD, spin=pool.spin)
    assert unprotect(protected, PASSWORD) == form


def test_the_workers_run_below_the_products_priority():
    """The engine, the web pages and the final PDFs come before the spins: a worker's
    niceness is the product's plus WORKER_NICENESS (Linux caps it at 19)."""
    ours = os.nice(0)
    with DocumentPool(2) as pool:
        theirs = {pool.run(os.nice, 0) for _ in range(4)}
    assert theirs == {min(ours + WORKER_NICENESS, 19)} and WORKER_NICENESS > 0
    assert os.nice(0) == ours  # this process keeps its own


def test_no_processes_spin_here_and_start_nothing():
    pool = DocumentPool(0)
    salt = os.urandom(16)
    assert pool.spin(PASSWORD, salt) == _spin(PASSWORD, salt)
    assert pool.spun_here == 1 and pool._executor is None
    pool.close()


def test_a_dead_worker_costs_a_warning_and_a_spin_here_then_a_new_worker(caplog):
    salt = os.urandom(16)
    with DocumentPool(1) as pool:
        assert pool.spin(PASSWORD, salt) == _spin(PASSWORD, salt)
        for pid in list(pool._executor._processes):  # noqa: SLF001 - the worker a kill -9 would hit
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        with caplog.at_level(logging.WARNING, logger="pepflow.documents.spin_pool"):
            assert pool.spin(PASSWORD, salt) == _spin(PASSWORD, salt)
        assert "worker process died" in caplog.text
        assert pool.spun_here == 1
        assert pool.spin(PASSWORD, salt) == _spin(PASSWORD, salt)  # a fresh worker
        assert pool.spun_in_pool == 2


def test_a_closed_pool_refuses_and_a_negative_size_is_refused():
    pool = DocumentPool(1)
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.spin(PASSWORD, os.urandom(16))
    with pytest.raises(ValueError, match="negative"):
        DocumentPool(-1)
    cores = os.cpu_count() or 1
    assert default_processes() == (cores if cores > 1 else 0)


def test_recipients_asking_at_once_wait_for_one_copy():
    copies = ProtectedCopies()
    made: list[int] = []
    started = threading.Event()

    def make() -> bytes:
        made.append(1)
        started.set()
        time.sleep(0.2)  # the spins take this long; the other recipients ask meanwhile
        return b"protected copy"

    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(copies.get(7, PASSWORD, make))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert results == [b"protected copy"] * 6
    assert made == [1] and copies.made == 1 and copies.reused == 5


def test_a_copy_that_fails_is_made_again_by_the_next_asker_who_sees_only_their_own_result():
    copies = ProtectedCopies()
    calls: list[int] = []
    gate = threading.Event()

    def failing() -> bytes:
        calls.append(1)
        gate.wait(5)
        raise OSError("the document could not be read")

    errors: list[Exception] = []

    def first() -> None:
        try:
            copies.get(8, PASSWORD, failing)
        except OSError as exc:
            errors.append(exc)

    worker = threading.Thread(target=first)
    worker.start()
    while not calls:
        time.sleep(0.01)
    second: list[bytes] = []
    waiter = threading.Thread(target=lambda: second.append(copies.get(8, PASSWORD, lambda: b"made by the second")))
    waiter.start()
    time.sleep(0.1)
    assert not second  # waiting for the first
    gate.set()
    worker.join(5)
    waiter.join(5)
    assert len(errors) == 1 and second == [b"made by the second"]
    assert copies.get(8, PASSWORD, lambda: b"never") == b"made by the second"


def _live_children() -> set[int]:
    """This process's children now, from /proc (Linux)."""
    found: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as listing:
                found.update(int(pid) for pid in listing.read().split())
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
    return found


def test_workers_are_replaced_after_their_share_of_calls_and_the_old_exit_first():
    """A worker's C memory only grows (lxml), so each does its share of calls and is
    replaced; the old workers finish and exit before new ones start, never both at once."""
    before = _live_children()
    seen: list[set[int]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(_live_children() - before)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    salts = [os.urandom(16) for _ in range(12)]
    try:
        with DocumentPool(2, recycle_after=2) as pool:
            results: dict[int, bytes] = {}
            threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, pool.spin(PASSWORD, salts[i])))
                       for i in range(12)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            pids = {pool.run(os.getpid) for _ in range(8)}
    finally:
        stop.set()
        watcher.join(5)
    assert results == {i: _spin(PASSWORD, salts[i]) for i in range(12)}
    assert pool.spun_in_pool == 12 and pool.spun_here == 0
    assert pool.recycled == 4  # 20 calls, 4 to each pair of workers
    assert len(pids) >= 2  # the last eight calls went to two pairs
    helpers = _live_children() - before  # multiprocessing's resource tracker outlives the pool
    assert max(len(alive - helpers) for alive in seen) <= 2


def test_workers_kept_for_the_pools_life_when_not_recycled_and_a_share_below_one_refused():
    with DocumentPool(1, recycle_after=None) as pool:
        assert len({pool.run(os.getpid) for _ in range(5)}) == 1
        assert pool.recycled == 0
    with pytest.raises(ValueError, match="at least one call"):
        DocumentPool(1, recycle_after=0)


def test_a_call_still_running_when_the_workers_are_replaced_holds_the_others_up_only_so_long(caplog):
    """Replacing the workers waits for their last calls, but not for ever: after
    recycle_wait the new workers start beside a call still running, the log says so, and
    that call's result still arrives."""
    with DocumentPool(1, recycle_after=1, recycle_wait=0.3) as pool:
        slow: list[float] = []
        runner = threading.Thread(target=lambda: slow.append(pool.run(time.sleep, 2.5) or 2.5))
        runner.start()
        time.sleep(0.5)  # the slow call is running in the only worker
        began = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="pepflow.documents.spin_pool"):
            salt = os.urandom(16)
            assert pool.spin(PASSWORD, salt) == _spin(PASSWORD, salt)  # on a new worker
        waited = time.monotonic() - began
        runner.join(10)
        assert slow == [2.5]
        assert waited < 1.8  # not the 2 s the slow call had left
        assert "still running after 0.3 s; new document workers start beside them" in caplog.text
        assert pool.recycled == 1
