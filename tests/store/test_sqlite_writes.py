"""Writers on one SQLite file in one process take turns on a lock that is handed over
at COMMIT, instead of polling in SQLite's busy handler (pepflow.sqlite_writes).

Each test turns SQLite's own busy handler off (``busy_timeout=0``), so a writer that
reached SQLite while another held the write lock would be refused at once with
"database is locked": a test passes only if the process's turn-taking did the waiting.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
import sqlalchemy as sa

from pepflow.engine.store import create_db_engine
from pepflow.sqlite_writes import serialize_writes
from pepflow.store.unit_of_work import create_store_engine


def _no_busy_wait(engine: sa.Engine) -> sa.Engine:
    @sa.event.listens_for(engine, "connect")
    def _busy_off(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    return engine


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "pep.sqlite3"
    with sa.create_engine(f"sqlite:///{path}").begin() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
    return path


def _hold_write(engine: sa.Engine, started: threading.Event, release: threading.Event, *, fail: bool = False) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t (who) VALUES ('first')"))
            started.set()
            release.wait(5)
            if fail:
                raise RuntimeError("the first writer's step failed")
    except RuntimeError:
        pass


def test_a_second_writer_waits_for_its_turn_and_is_not_refused(database):
    records = _no_busy_wait(create_store_engine(f"sqlite:///{database}"))
    engine = _no_busy_wait(create_db_engine(f"sqlite:///{database}"))  # BEGIN IMMEDIATE
    started, release = threading.Event(), threading.Event()
    first = threading.Thread(target=_hold_write, args=(records, started, release))
    first.start()
    assert started.wait(5)
    threading.Timer(0.2, release.set).start()
    began = time.monotonic()
    with engine.begin() as conn:  # waits for the records store's transaction to commit
        conn.execute(sa.text("INSERT INTO t (who) VALUES ('second')"))
    waited = time.monotonic() - began
    first.join()
    with records.connect() as conn:
        assert [w for (w,) in conn.execute(sa.text("SELECT who FROM t ORDER BY id"))] == ["first", "second"]
    assert 0.15 < waited < 3


def test_the_turn_passes_on_after_a_rollback(database):
    records = _no_busy_wait(create_store_engine(f"sqlite:///{database}"))
    started, release = threading.Event(), threading.Event()
    first = threading.Thread(target=_hold_write, args=(records, started, release), kwargs={"fail": True})
    first.start()
    assert started.wait(5)
    threading.Timer(0.2, release.set).start()
    with records.begin() as conn:  # waits while the first writer fails and rolls back
        conn.execute(sa.text("INSERT INTO t (who) VALUES ('second')"))
    first.join()
    with records.connect() as conn:
        assert [w for (w,) in conn.execute(sa.text("SELECT who FROM t"))] == ["second"]


def test_a_reader_does_not_wait_for_the_writer(database):
    records = _no_busy_wait(create_store_engine(f"sqlite:///{database}"))
    started, release = threading.Event(), threading.Event()
    first = threading.Thread(target=_hold_write, args=(records, started, release))
    first.start()
    assert started.wait(5)
    try:
        began = time.monotonic()
        with records.connect() as conn:  # WAL: the last commit, at once
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 0
        assert time.monotonic() - began < 1
    finally:
        release.set()
        first.join()


def test_a_writer_that_gets_no_turn_in_time_is_left_to_sqlite_and_said(database, caplog):
    holder = _no_busy_wait(sa.create_engine(f"sqlite:///{database}"))
    waiter = _no_busy_wait(sa.create_engine(f"sqlite:///{database}"))
    assert serialize_writes(holder) and serialize_writes(waiter, timeout=0.1)
    started, release = threading.Event(), threading.Event()
    first = threading.Thread(target=_hold_write, args=(holder, started, release))
    first.start()
    assert started.wait(5)
    try:
        with caplog.at_level(logging.WARNING, logger="pepflow.sqlite_writes"):
            with pytest.raises(sa.exc.OperationalError, match="database is locked"):
                with waiter.begin() as conn:
                    conn.execute(sa.text("INSERT INTO t (who) VALUES ('second')"))
        assert "no turn to write" in caplog.text
    finally:
        release.set()
        first.join()
    with waiter.begin() as conn:  # and the turn is free again afterwards
        conn.execute(sa.text("INSERT INTO t (who) VALUES ('third')"))


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://localhost/test"])
def test_only_a_sqlite_file_has_turns(url):
    assert serialize_writes(sa.create_engine(url)) is False
