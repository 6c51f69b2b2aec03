"""Durable state of the embedded engine, in a relational store through SQLAlchemy.

SQLite by default, PostgreSQL by URL. Every engine operation runs in one transaction
(:meth:`EngineStore.transaction`): the instance snapshot, its jobs, user tasks,
timers, message subscriptions, incidents and history rows change together or not at
all, so killing the process at any moment loses nothing that was committed and
repeats nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from pepflow.held_reads import HeldReads, sqlite_file
from pepflow.sqlite_writes import serialize_writes

SCHEMA_VERSION = 1

metadata = sa.MetaData()

# Keys are 64-bit integers, as in Zeebe, handed out from one sequence per store.
key_sequence = sa.Table(
    "engine_key_sequence",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("next_key", sa.BigInteger, nullable=False),
)

schema_info = sa.Table(
    "engine_schema",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
)

deployments = sa.Table(
    "engine_deployment",
    metadata,
    sa.Column("key", sa.BigInteger, primary_key=True),
    sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
)

process_definitions = sa.Table(
    "engine_process_definition",
    metadata,
    sa.Column("key", sa.BigInteger, primary_key=True),
    sa.Column("deployment_key", sa.BigInteger, nullable=False),
    sa.Column("bpmn_process_id", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("resource_name", sa.String(255), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("xml", sa.Text, nullable=False),
    sa.UniqueConstraint("bpmn_process_id", "version", name="uq_process_version"),
)

forms = sa.Table(
    "engine_form",
    metadata,
    sa.Column("key", sa.BigInteger, primary_key=True),
    sa.Column("deployment_key", sa.BigInteger, nullable=False),
    sa.Column("form_id", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("resource_name", sa.String(255), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("schema", sa.Text, nullable=False),
    sa.UniqueConstraint("form_id", "version", name="uq_form_version"),
)

# process definitions and forms deleted by an operator (pepflow/engine/operations.py);
# their rows stay: running instances need them, and a version is never reused
deleted_resources = sa.Table(
    "engine_deleted_resource",
    metadata,
    sa.Column("key", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # process, form
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
)

instances = sa.Table(
    "engine_instance",
    metadata,
    sa.Column("key", sa.BigInteger, primary_key=True),
    sa.Column("process_definition_key", sa.BigInteger, nullable=False),
    sa.Column("bpmn_process_id", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # ACTIVE, COMPLETED, CANCELED
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("start_correlation_key", sa.String(255), nullable=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("active_elements", sa.Text, nullable=False, default="[]"),
    sa.Column("variables", sa.Text, nullable=False, default="{}"),
    # the compacted SpiffWorkflow snapshot (without the process spec)
    sa.Column("snapshot", sa.Text, nullable=True),
    sa.Column("revision", sa.Integer, nullable=False, default=1),
)

jobs = sa.Table(
    "engine_job",
    metadata,
    sa.Column("key", sa.BigInteger, primary_key=True),
    sa.Column("instance_key", sa.BigInteger, nullable=False, index=True),
    sa.Column("task_id", sa.String(36), nullable=False, unique=True),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("element_instance_key", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("custom_headers", sa.Text, nullable=False),
    sa.Column("local_variables", sa.Text, nullable=False),
    sa.Column("retries", sa.Integer, nullable=False),
    # ACTIVATABLE, ACTIVATED, FAILED (no retries left: an incident is open)
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("worker", sa.String(255), nullable=True),
    sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
    sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("activations", sa.Integer, nullable=False, default=0),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_engine_job_type_state", "type", "state"),
)

user_tasks = sa.Table(
    "engine_user_task",
    metadata,
    sa.Column("key", sa.BigInteger, primary_key=True),
    sa.Column("instance_key", sa.BigInteger, nullable=False, index=True),
    sa.Column("task_id", sa.String(36), nullable=False, unique=True),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("bpmn_process_id", sa.String(255), nullable=False),
    sa.Column("form_id", sa.String(255), nullable=True),
    sa.Column("assignee", sa.String(255), nullable=True, index=True),
    sa.Column("candidate_groups", sa.Text, nullable=False, default="[]"),
    sa.Column("candidate_users", sa.Text, nullable=False, default="[]"),
    sa.Column("due_date", sa.DateTime(timezone=True), nullable=True),
    sa.Column("follow_up_date", sa.DateTime(timezone=True), nullable=True),
    # CREATED, COMPLETED, CANCELED
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("variables", sa.Text, nullable=False, default="{}"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("completed_by", sa.String(255), nullable=True),
)

timers = sa.Table(
    "engine_timer",
    metadata,
    sa.Column("task_id", sa.String(36), primary_key=True),
    sa.Column("instance_key", sa.BigInteger, nullable=False, index=True),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

subscriptions = sa.Table(
    "engine_message_subscription",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("instance_key", sa.BigInteger, nullable=False, index=True),
    # the waiting catch task, or "" for an event subprocess start (instance-wide)
    sa.Column("task_id", sa.String(36), nullable=False),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("message_name", sa.String(255), nullable=False),
    sa.Column("correlation_key", sa.String(255), nullable=False),
    sa.UniqueConstraint("instance_key", "task_id", "element_id", name="uq_subscription"),
    sa.Index("ix_subscription_lookup", "message_name", "correlation_key"),
)

messages = sa.Table(
    "engine_message",
    metadata,
    sa.Column("key", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("correlation_key", sa.String(255), nullable=False),
    sa.Column("message_id", sa.String(255), nullable=True),
    sa.Column("variables", sa.Text, nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Index("ix_message_lookup", "name", "correlation_key"),
)

message_correlations = sa.Table(
    "engine_message_correlation",
    metadata,
    sa.Column("message_key", sa.BigInteger, primary_key=True),
    sa.Column("instance_key", sa.BigInteger, primary_key=True),
)

incidents = sa.Table(
    "engine_incident",
    metadata,
    sa.Column("key", sa.BigInteger, primary_key=True),
    sa.Column("instance_key", sa.BigInteger, nullable=False, index=True),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("task_id", sa.String(36), nullable=True),
    sa.Column("job_key", sa.BigInteger, nullable=True),
    # JOB_NO_RETRIES, EXTRACT_VALUE_ERROR, UNHANDLED_ERROR_EVENT, ...
    sa.Column("error_type", sa.String(64), nullable=False),
    sa.Column("error_message", sa.Text, nullable=False),
    # ACTIVE, RESOLVED
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
)

# What happened to each element of an instance: the operations view and audit.
history = sa.Table(
    "engine_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("instance_key", sa.BigInteger, nullable=False, index=True),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("element_type", sa.String(64), nullable=False),
    # ACTIVATED, COMPLETED, TERMINATED
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL keeps readers off the writer's back; NORMAL is durable against a process
    # kill (the OS has the pages), which is the failure the engine must survive.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_db_engine(url: str, *, for_writes: bool = True) -> Engine:
    if url.startswith("sqlite"):
        # the reads' engine serves connections threads keep (pepflow.held_reads): no pool
        # limit, so a thread holding one never makes another wait
        pool = {"poolclass": sa.pool.NullPool} if not for_writes and sqlite_file(url) else {}
        engine = sa.create_engine(url, connect_args={"check_same_thread": False}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        # SQLite's own transaction handling begins lazily; make BEGIN explicit. A write
        # transaction takes the write lock at once (so one that reads first cannot be
        # refused when it writes); a read transaction takes none: with WAL, readers
        # see the last commit and never wait for the writer.
        begin = "BEGIN IMMEDIATE" if for_writes else "BEGIN"

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin)

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None

        if for_writes:  # the engine's writers and the records store's queue in this process
            serialize_writes(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class EngineStore:
    """Owns the database engine and hands out transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = create_db_engine(url)
        self.reads = create_db_engine(url, for_writes=False) if url.startswith("sqlite") else self.db
        # SQLite: each thread keeps its read connection between reads (about 40 us of
        # the interpreter a read; pepflow.held_reads)
        self.held = HeldReads(self.reads) if sqlite_file(url) else None
        metadata.create_all(self.db)
        with self.db.begin() as conn:
            version = conn.execute(sa.select(schema_info.c.version)).scalar()
            if version is None:
                conn.execute(schema_info.insert().values(version=SCHEMA_VERSION))
                conn.execute(key_sequence.insert().values(name="key", next_key=2251799813685249))
            elif version != SCHEMA_VERSION:
                raise RuntimeError(
                    f"engine tables at {url} have schema version {version}, this engine needs "
                    f"{SCHEMA_VERSION}"
                )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.db.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction: a consistent snapshot that takes no write lock."""
        if self.held is not None:
            with self.held.connection() as conn:
                yield conn
            return
        with self.reads.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.db.dispose()
        if self.held is not None:
            self.held.close()


class KeyAllocator:
    """Hands out keys in blocks so that a busy engine does not write the sequence row
    for every key. The block is taken inside the caller's transaction; if that
    transaction rolls back, :meth:`reset` forgets the block so no key is ever reused."""

    BLOCK = 256

    def __init__(self) -> None:
        self._next = 0
        self._limit = 0

    def reset(self) -> None:
        self._next = self._limit = 0

    def next_key(self, conn: Connection) -> int:
        if self._next >= self._limit:
            current = conn.execute(
                sa.select(key_sequence.c.next_key)
                .where(key_sequence.c.name == "key")
                .with_for_update()
            ).scalar_one()
            conn.execute(
                key_sequence.update()
                .where(key_sequence.c.name == "key")
                .values(next_key=current + self.BLOCK)
            )
            self._next, self._limit = current, current + self.BLOCK
        key = self._next
        self._next += 1
        return key
