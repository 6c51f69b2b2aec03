"""What an instance waits on in the store, read in one statement.

Every save of an instance brings its jobs, open user tasks, timers and message
subscriptions in line with its task tree (``Engine._reconcile``). Reading the four
tables one by one was four statements a save, most of a save's time in a profiled
simulated year; one ``UNION ALL`` answers the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import store as t


@dataclass
class Waits:
    jobs: dict[str, int] = field(default_factory=dict)  # task id -> job key
    user_tasks: dict[str, int] = field(default_factory=dict)  # task id -> user task key (CREATED)
    timers: dict[str, datetime | None] = field(default_factory=dict)  # task id -> due (aware)
    subscriptions: set[tuple[str, str]] = field(default_factory=set)  # (task id, element id)


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # a union's column read back without its type's processing
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _waits_statement() -> sa.CompoundSelect:
    """An instance's wait states in one ``UNION ALL``, built once: a statement built
    for every save cost more Python than the query (its construction and cache key)."""
    key = sa.bindparam("instance_key", type_=sa.BigInteger)
    no_key = sa.cast(sa.null(), sa.BigInteger)
    no_text = sa.cast(sa.null(), sa.String)
    no_time = sa.cast(sa.null(), sa.DateTime(timezone=True))
    timers = sa.select(
        sa.literal("t").label("kind"), t.timers.c.task_id.label("task_id"), no_text.label("element_id"),
        no_key.label("number"), t.timers.c.due_at.label("due_at"),
    ).where(t.timers.c.instance_key == key)
    jobs = sa.select(
        sa.literal("j"), t.jobs.c.task_id, no_text, t.jobs.c.key, no_time,
    ).where(t.jobs.c.instance_key == key)
    tasks = sa.select(
        sa.literal("u"), t.user_tasks.c.task_id, no_text, t.user_tasks.c.key, no_time,
    ).where(t.user_tasks.c.instance_key == key, t.user_tasks.c.state == "CREATED")
    subs = sa.select(
        sa.literal("s"), t.subscriptions.c.task_id, t.subscriptions.c.element_id, no_key, no_time,
    ).where(t.subscriptions.c.instance_key == key)
    return sa.union_all(timers, jobs, tasks, subs)


_WAITS = _waits_statement()


def read_waits(conn: Connection, instance_key: int) -> Waits:
    waits = Waits()
    for row in conn.execute(_WAITS, {"instance_key": instance_key}):
        if row.kind == "t":
            waits.timers[row.task_id] = _aware(row.due_at)
        elif row.kind == "j":
            waits.jobs[row.task_id] = row.number
        elif row.kind == "u":
            waits.user_tasks[row.task_id] = row.number
        else:
            waits.subscriptions.add((row.task_id, row.element_id))
    return waits


_NEXT_DUE = sa.select(
    sa.select(sa.func.min(t.timers.c.due_at)).scalar_subquery().label("timer"),
    sa.select(sa.func.min(t.jobs.c.retry_at)).where(t.jobs.c.state == "ACTIVATABLE").scalar_subquery().label("retry"),
    sa.select(sa.func.min(t.jobs.c.deadline)).where(t.jobs.c.state == "ACTIVATED").scalar_subquery().label("deadline"),
)


def next_due(conn: Connection) -> datetime | None:
    """The next instant the engine has work: a timer, a job back from its backoff, or an
    activation timing out. One statement for what ``next_timer_due`` and
    ``next_job_due`` read in three: the simulation clock asks it at every stop."""
    row = conn.execute(_NEXT_DUE).one()
    timer, retry, deadline = (_aware(v) for v in row)
    if deadline is not None:
        # an activation is taken back only once its deadline has passed (deadline < now,
        # as activate_jobs reads it): the clock must stop after it, not on it, or a
        # simulation waiting for a timed-out job would stop on the same instant forever
        deadline += timedelta(microseconds=1)
    values = [v for v in (timer, retry, deadline) if v is not None]
    return min(values) if values else None
