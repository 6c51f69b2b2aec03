"""The records store's unit of work: one database, one transaction at a time, audited.

Every repository of the store (``children_repo``, ``settings_repo``, ``staff_repo``,
``peps_repo``, ``mail_repo``, ``outbox_repo``, ``audit_repo``) and its neighbours
(``allocations``, ``cover``, ``returns``, ``facts``, ``quality``, ``ppp``) change data
through one :class:`UnitOfWork`:

- Every change writes an audit entry (who, when from the injected clock, which
  entity, what action, a JSON diff ``{field: [old, new]}``, :meth:`UnitOfWork.audit`)
  in the same transaction as the change: both are committed or neither is.
- Several changes are grouped into one transaction with :meth:`UnitOfWork.atomic`
  (``RecordsStore.atomic``; the importer does): all of them, with their audit, or none.
  The open session is shared through a context variable, so a repository's
  :meth:`~UnitOfWork.transaction` or :meth:`~UnitOfWork.read` inside it joins it,
  whichever repository opened it.
- A change the database refuses (a constraint, a value too long) is a
  :class:`~pepflow.store.errors.RecordsError` naming what the database said.

Everything about one PEP (sections, documents, mail, views) is audited under entity
``pep`` and the PEP id, so ``audit_entries("pep", pep_id)`` is that PEP's full history.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pepflow.clock import Clock
from pepflow.held_reads import HeldReads, sqlite_file
from pepflow.sqlite_writes import serialize_writes
from pepflow.store.core_reads import dicts
from pepflow.store.errors import RecordsError
from pepflow.store.models import AuditRow
from pepflow.store.values import _diff, _jsonable, _snapshot, _text


_INSERT_AUDIT = sa.insert(AuditRow.__table__)


def create_store_engine(url: str, *, reads_only: bool = False) -> sa.Engine:
    """An engine for ``url``; SQLite gets foreign keys on and its directory created.
    ``reads_only``: the unpooled engine of the connections threads keep to read a
    SQLite file with (:class:`~pepflow.held_reads.HeldReads`)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        if reads_only:
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"check_same_thread": False})
        else:
            engine = sa.create_engine(url)

        @sa.event.listens_for(engine, "connect")
        def _foreign_keys_on(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if database and database != ":memory:":
                # As the engine's store on the same file: WAL, and NORMAL sync - a
                # commit survives a killed process (the OS has the pages) without an
                # fsync per commit (the outbox records each message it sends).
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        if not reads_only:
            serialize_writes(engine)  # writers of this process queue, not poll (pepflow.sqlite_writes)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class UnitOfWork:
    """Sessions and transactions over one database, and the audit written in them.

    ``url`` is a SQLAlchemy URL (SQLite or PostgreSQL with psycopg 3); ``clock`` stamps
    every audit entry. :meth:`close` releases the connections.
    """

    def __init__(self, url: str, clock: Clock) -> None:
        self.url = url
        self.clock = clock
        self.engine = create_store_engine(url)
        # a SQLite file: each thread keeps the connection it reads with through Core
        # between reads (about 40 us of the interpreter a read; pepflow.held_reads)
        self._held = HeldReads(create_store_engine(url, reads_only=True)) if sqlite_file(url) else None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        self._active: ContextVar[Session | None] = ContextVar(
            f"records-store-{id(self)}", default=None
        )

    @property
    def engines(self) -> tuple[sa.Engine, ...]:
        """Every engine this unit of work runs statements on: the store's, and on a
        SQLite file the one of the connections threads keep for reads."""
        return (self.engine,) if self._held is None else (self.engine, self._held.engine)

    def close(self) -> None:
        self.engine.dispose()
        if self._held is not None:
            self._held.close()

    @property
    def in_transaction(self) -> bool:
        """Whether this thread (or task) is inside a transaction of this unit of work."""
        return self._active.get() is not None

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Group changes into one transaction: all of them (with their audit) or none."""
        with self.transaction():
            yield

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a transaction, committed when the block ends (rolled back on an
        exception); inside another transaction, that one's session."""
        active = self._active.get()
        if active is not None:
            yield active
            return
        with self._sessions() as session:
            token = self._active.set(session)
            try:
                with session.begin():
                    yield session
            except (IntegrityError, DataError) as exc:
                raise RecordsError(f"The records store refused the change: {exc.orig}") from exc
            finally:
                self._active.reset(token)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session to read with; inside a transaction, that transaction's session."""
        active = self._active.get()
        if active is not None:
            yield active
            return
        with self._sessions() as session:
            yield session

    @contextmanager
    def rows(self) -> Iterator[sa.Connection]:
        """A connection to read with through Core (:mod:`pepflow.store.core_reads`):
        inside a transaction, that transaction's connection after a flush, so the read
        sees the transaction's own pending changes as an ORM query would."""
        active = self._active.get()
        if active is not None:
            active.flush()
            yield active.connection()
            return
        if self._held is not None:
            with self._held.connection() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            yield conn

    def record(self, model: type, query: sa.Select, params: dict[str, Any] | None = None) -> Any:
        """The first row of ``query`` (a Core read, :meth:`rows`) as a ``model``
        record, or ``None``."""
        return next(iter(self.records(model, query, params)), None)

    def records(self, model: type, query: sa.Select, params: dict[str, Any] | None = None) -> list:
        """Every row of ``query`` (a Core read, :meth:`rows`) as a ``model`` record."""
        with self.rows() as conn:
            return [model.model_validate(row) for row in dicts(conn.execute(query, params or {}))]

    @staticmethod
    def connection(session: Session) -> sa.Connection:
        """``session``'s own connection for a Core write, after a flush: the session's
        pending changes reach the database first, so the write comes after them as an
        ORM flush would have put it. Expire (:meth:`forget`) any loaded copy of a row
        written this way."""
        session.flush()
        return session.connection()

    @staticmethod
    def forget(session: Session, model: type, *keys: Any) -> None:
        """Expire ``model``'s objects with these primary keys (a tuple for a composite
        key) if ``session`` has them loaded: a Core write just changed their rows, so
        the next ORM read loads the new values instead of the identity map's old ones.
        A lookup per key, not a scan: a long ``atomic()`` block may hold many objects."""
        if not session.identity_map:
            return
        mapper = sa.inspect(model)
        for key in keys:
            loaded = session.identity_map.get(
                mapper.identity_key_from_primary_key(key if isinstance(key, tuple) else (key,))
            )
            if loaded is not None:
                session.expire(loaded)

    def audit(
        self,
        session: Session,
        actor: str,
        entity: str,
        entity_id: str,
        action: str,
        diff: dict[str, Any],
    ) -> None:
        """Write one audit entry in ``session`` (the change's own transaction)."""
        actor_id = _text(actor, "the actor (who makes the change)")
        at = self.clock.now()
        if at.tzinfo is None:
            raise RecordsError("the clock returned a naive datetime; audit stamps must be aware")
        session.flush()  # the change being audited reaches the database first, as before
        # a Core insert built once on the session's connection: no ORM object and unit
        # of work for a row nothing reads back in this transaction (2-3 a job)
        session.connection().execute(
            _INSERT_AUDIT,
            {"at": at, "actor_id": actor_id, "entity": entity, "entity_id": entity_id,
             "action": action, "diff": _jsonable(diff)},
        )

    def upsert(
        self,
        session: Session,
        row_type: type,
        key: Any,
        fields: Sequence[str],
        values: dict[str, Any],
        *,
        actor: str,
        entity: str,
        entity_id: str,
    ) -> tuple[Any, str]:
        """Create or update a row; audit ``create`` / ``update``; ``unchanged`` writes nothing."""
        row = session.get(row_type, key)
        if row is None:
            row = row_type(**values)
            session.add(row)
            session.flush()
            self.audit(session, actor, entity, entity_id, "create", _diff({}, values))
            return row, "created"
        before = _snapshot(row, fields)
        for name, value in values.items():
            setattr(row, name, value)
        changes = _diff(before, _snapshot(row, fields))
        if not changes:
            return row, "unchanged"
        session.flush()
        self.audit(session, actor, entity, entity_id, "update", changes)
        return row, "updated"
