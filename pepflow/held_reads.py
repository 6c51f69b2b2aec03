"""A read connection each thread keeps between its reads of a SQLite file.

Taking a connection from SQLAlchemy's pool and giving it back costs the interpreter
about 40 us (a ``Connection`` object, the pool's checkout, its reset on return), more
than many of the reads made with it. In a simulated council's year the product took
32 connections a job, most of them for one short read (is a job activatable, is a
timer due, is mail due, a PEP, a child, a setting). :class:`HeldReads` gives each
thread one connection of its own, opened on its first read and kept: a read is then a
``BEGIN`` and a ``COMMIT`` on it.

- A read inside another read of the same thread (the held connection is in a
  transaction) gets a connection of its own, as before.
- The connections come from an engine of their own without a pool limit
  (``NullPool``): a thread that keeps one never makes another wait for the pool.
- A thread's connection is closed when the thread ends, and every one by
  :meth:`HeldReads.close` (the store's ``close``/``dispose``).
- A connection the database dropped (``invalidated``) is replaced on the next read.
- Only SQLite files: a PostgreSQL connection is a server process, which a thread
  should not keep for its lifetime; that database keeps its pool.

With WAL a held connection outside its transaction holds no snapshot: each read sees
the last commit, as a fresh connection would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

__all__ = ["HeldReads", "sqlite_file"]


def sqlite_file(url: str | sa.URL) -> bool:
    """Whether ``url`` is a SQLite database in a file (not in memory, not a URI), the
    only kind whose reads :class:`HeldReads` keeps: an in-memory database is a new,
    empty one for every connection of an unpooled engine."""
    parsed = sa.make_url(url)
    database = parsed.database
    return (parsed.get_backend_name() == "sqlite" and bool(database) and database != ":memory:"
            and not database.startswith("file:"))


class _Held:
    """One thread's connection; closed when the thread's local storage goes. ``busy``
    is held while the thread reads with it, so that :meth:`HeldReads.close`, from
    another thread, waits for the read instead of closing the connection under it
    (SQLite's C library would then read freed memory: a crash, not an error)."""

    def __init__(self, owner: HeldReads, conn: sa.Connection, busy: threading.RLock) -> None:
        self.owner = owner
        self.conn = conn
        self.busy = busy

    def __del__(self) -> None:
        self.owner._forget(self.conn)


class HeldReads:
    """Per-thread read connections of ``engine`` (its own, unpooled SQLite engine)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        #: every thread's connection and the lock its reads hold
        self._open: dict[sa.Connection, threading.RLock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[sa.Connection]:
        """This thread's connection in a transaction, committed when the block ends
        (rolled back on an exception)."""
        held = self._held()
        if held.conn.in_transaction():  # a read inside this thread's own read
            with self.engine.connect() as own, own.begin():
                yield own
            return
        held.busy.acquire()
        try:
            while held.conn.closed:  # closed by ``close`` since it was handed out
                held.busy.release()
                held = self._held()
                held.busy.acquire()
            with held.conn.begin():
                yield held.conn
        finally:
            held.busy.release()

    def _held(self) -> _Held:
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None and not held.conn.closed and not held.conn.invalidated:
            return held
        conn = self.engine.connect()
        busy = threading.RLock()
        with self._guard:
            self._open[conn] = busy
        held = _Held(self, conn, busy)
        self._local.held = held
        return held

    def _forget(self, conn: sa.Connection) -> None:
        with self._guard:
            self._open.pop(conn, None)
        try:
            conn.close()
        except Exception:  # pragma: no cover - closing a connection at a thread's end
            pass

    @property
    def open_connections(self) -> int:
        with self._guard:
            return len(self._open)

    def close(self) -> None:
        """Close every thread's connection and the engine's; a read still running in
        another thread is waited for, and a later read opens a new connection."""
        with self._guard:
            held, self._open = list(self._open.items()), {}
        for conn, busy in held:
            with busy:
                conn.close()
        self._local = threading.local()
        self.engine.dispose()
