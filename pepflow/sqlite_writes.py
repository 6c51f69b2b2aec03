"""One writer at a time on a SQLite file, handed over the moment the writer finishes.

SQLite lets one transaction write a database at a time. A second writer waits in
SQLite's busy handler, which sleeps and looks again (1, 2, 5, 10, 15, 20, 25, 25, 25,
50 ... ms): it is not woken when the writer commits. The engine's store and the
records store share one file, and the job workers run their steps in threads, so
writers meet all day; measured over a 50-child simulated year, an ``UPDATE peps``
that waited this way took 29 ms on average (the statement itself takes 9 us), and
such waits were about a quarter of the run's wall time.

:func:`serialize_writes` puts the writers of one process in a queue on a lock per
database file instead: a connection takes the file's lock when its transaction is
about to write (``BEGIN IMMEDIATE``, or its first ``INSERT``/``UPDATE``/``DELETE``)
and gives it back when the transaction commits or rolls back, or the connection goes
back to its pool, so the next writer starts at once. Reads never take it (with WAL
they do not wait for the writer). Another process writing the same file still meets
SQLite's own busy handler (``busy_timeout``), as before.

A writer that cannot have the lock within ``timeout`` seconds is not refused here: a
warning is logged and it goes on to SQLite, whose busy handler then decides (it
waits its own ``busy_timeout`` and refuses with "database is locked"), exactly as it
did without this lock. A thread that already writes through one connection and
starts writing through another on the same file would wait on itself: SQLite refuses
that too, after its timeout, so nothing that worked before can hang now.
"""

from __future__ import annotations

import logging
import os
import threading

import sqlalchemy as sa

log = logging.getLogger(__name__)

_WRITES = ("insert", "update", "delete", "replace", "begin immediate", "begin exclusive")

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def file_lock(database: str) -> threading.Lock:
    """The process's write lock for the SQLite file ``database`` (one per real path)."""
    key = os.path.realpath(database)
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _writes(statement: str) -> bool:
    return statement.lstrip()[:15].lower().startswith(_WRITES)


def serialize_writes(engine: sa.Engine, *, timeout: float = 10.0) -> bool:
    """Queue the writers of ``engine`` (a SQLite file) on the file's lock in this
    process; ``False`` (and nothing done) for another database or an in-memory one."""
    url = engine.url
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return False
    lock = file_lock(database)
    holders: set[int] = set()  # the DB-API connections that hold the turn

    def take(dbapi_connection) -> None:
        if id(dbapi_connection) in holders:
            return
        if lock.acquire(timeout=timeout):
            holders.add(id(dbapi_connection))
            return
        log.warning("no turn to write %s within %.0f s in this process; SQLite's busy handler decides", database, timeout)

    def give_back(dbapi_connection) -> None:
        if dbapi_connection is not None and id(dbapi_connection) in holders:
            holders.discard(id(dbapi_connection))
            lock.release()

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before_write(conn, _cursor, statement, _params, _context, _executemany) -> None:
        if _writes(statement):
            take(conn.connection.dbapi_connection)

    # the turn passes on once the database has the COMMIT (or ROLLBACK), not before
    dialect = engine.dialect
    for name in ("do_commit", "do_rollback", "do_close"):
        setattr(dialect, name, _then_give_back(getattr(dialect, name), give_back))
    # a connection dropped by its pool never keeps the turn
    for name in ("checkin", "invalidate", "close", "detach"):
        sa.event.listen(engine.pool, name, lambda dbapi_connection, *_rest: give_back(dbapi_connection))
    return True


def _then_give_back(finish, give_back):
    def finished(dbapi_connection) -> None:
        try:
            finish(dbapi_connection)
        finally:
            give_back(dbapi_connection)

    return finished
