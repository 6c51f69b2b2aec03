"""Each thread keeps its read connection of a SQLite file between reads
(pepflow.held_reads): the same connection read after read, a fresh one for a read
inside a read, every commit seen, nothing left open when a thread ends or the store
closes."""

from __future__ import annotations

import gc
import threading

import pytest
import sqlalchemy as sa

from pepflow.held_reads import HeldReads
from pepflow.store.unit_of_work import create_store_engine


@pytest.fixture
def files(tmp_path):
    """A SQLite file with a one-row table: its writer engine and the kept reads."""
    url = f"sqlite:///{tmp_path / 'records.db'}"
    writer = create_store_engine(url)
    with writer.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    held = HeldReads(create_store_engine(url, reads_only=True))
    yield writer, held


def _dbapi(conn: sa.Connection):
    return conn.connection.dbapi_connection


def test_a_thread_reads_through_one_connection_and_sees_every_commit(files):
    writer, held = files
    with held.connection() as conn:
        first = _dbapi(conn)
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    with writer.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    with held.connection() as conn:
        assert _dbapi(conn) is first
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2  # no stale snapshot
    assert held.open_connections == 1


def test_a_read_inside_a_read_has_a_connection_of_its_own(files):
    _writer, held = files
    with held.connection() as outer:
        with held.connection() as inner:
            assert _dbapi(inner) is not _dbapi(outer)
            assert inner.exec_driver_sql("SELECT n FROM t").scalar() == 1
        assert outer.in_transaction()  # the outer read goes on in its own transaction
        assert outer.exec_driver_sql("SELECT n FROM t").scalar() == 1
    assert held.open_connections == 1


def test_an_error_in_a_read_rolls_back_and_the_connection_stays_usable(files):
    _writer, held = files
    with held.connection() as conn:
        first = _dbapi(conn)
    with pytest.raises(sa.exc.OperationalError):
        with held.connection() as conn:
            conn.exec_driver_sql("SELECT nothing FROM nowhere")
    with held.connection() as conn:
        assert _dbapi(conn) is first
        assert conn.exec_driver_sql("SELECT n FROM t").scalar() == 1


def test_threads_have_their_own_and_a_thread_that_ends_closes_its_own(files):
    _writer, held = files
    seen = []
    all_read = threading.Barrier(4)

    def read() -> None:
        with held.connection() as conn:
            seen.append(_dbapi(conn))
        all_read.wait(timeout=20)  # every thread still holds its connection here

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 4
    seen.clear()
    gc.collect()
    assert held.open_connections == 0  # every ended thread closed its connection


def test_more_threads_than_a_pool_holds_never_wait_for_a_connection(files):
    _writer, held = files
    inside, release = threading.Barrier(21), threading.Event()
    errors = []

    def read() -> None:
        try:
            with held.connection() as conn:
                conn.exec_driver_sql("SELECT n FROM t").scalar()
            inside.wait(timeout=20)
            release.wait(timeout=20)
        except Exception as exc:  # pragma: no cover - what the test reports
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(20)]  # QueuePool's limit is 15
    for t in threads:
        t.start()
    inside.wait(timeout=20)
    assert held.open_connections == 20
    release.set()
    for t in threads:
        t.join()
    assert errors == []


def test_close_closes_every_threads_connection_and_a_later_read_opens_one(files):
    _writer, held = files
    with held.connection() as conn:
        kept = conn
    held.close()
    assert kept.closed
    assert held.open_connections == 0
    with held.connection() as conn:
        assert conn.exec_driver_sql("SELECT n FROM t").scalar() == 1


_CLOSE_DURING_READS = r"""
import sys, threading, time
from pepflow.held_reads import HeldReads
from pepflow.store.unit_of_work import create_store_engine

url = sys.argv[1]
writer = create_store_engine(url)
with writer.begin() as conn:
    conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    conn.exec_driver_sql("INSERT INTO t VALUES (1)")
held = HeldReads(create_store_engine(url, reads_only=True))
SLOW = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300000) SELECT count(*) FROM c"
results, stop = [], threading.Event()

def reader():
    while not stop.is_set():
        with held.connection() as conn:
            results.append(conn.exec_driver_sql(SLOW).scalar())

threads = [threading.Thread(target=reader) for _ in range(3)]
for thread in threads:
    thread.start()
for _ in range(15):
    time.sleep(0.02)
    held.close()  # as a store closes while its runtime's threads still read
stop.set()
for thread in threads:
    thread.join()
assert results and set(results) == {300000}, results[:5]
print("reads", len(results))
"""


def test_closing_while_other_threads_read_waits_for_their_reads(tmp_path):
    """The store closing (an app shutting down, a test's teardown) while the runtime's
    threads still read: each read finishes, the next opens a new connection. Closing a
    SQLite connection under a running statement crashed the process (a segmentation
    fault in a full test run), so the race runs in a process of its own."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _CLOSE_DURING_READS, f"sqlite:///{tmp_path / 'records.db'}"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("reads ")
