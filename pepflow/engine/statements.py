"""The statements the engine runs for every job and every save, built once.

A SQLAlchemy statement built afresh costs more in Python (the clauses, then their
cache key) than SQLite takes to run it, and a job runs about a dozen of these: in a
council's year that was a tenth of the engine's time. Built once with bind
parameters, a statement keeps its cache key and only the values change.

Bind parameters are named ``b_...`` so they never clash with a column's name: an
``UPDATE`` or ``INSERT`` here takes the columns to set from the parameters it is
executed with (``conn.execute(SAVE_INSTANCE, {"b_key": ..., "b_revision": ..., "state": ...})``).
"""

from __future__ import annotations

import sqlalchemy as sa

from . import store as t

_i, _j = t.instances, t.jobs

#: an instance's revision, state and definition (``b_key``): is the cached copy current?
INSTANCE_HEAD = sa.select(_i.c.revision, _i.c.state, _i.c.process_definition_key).where(_i.c.key == sa.bindparam("b_key"))
#: an instance's snapshot (``b_key``)
INSTANCE_SNAPSHOT = sa.select(_i.c.snapshot).where(_i.c.key == sa.bindparam("b_key"))
#: saves an instance (``b_key``) if it is still at ``b_revision``: the columns are the parameters
SAVE_INSTANCE = _i.update().where(_i.c.key == sa.bindparam("b_key"), _i.c.revision == sa.bindparam("b_revision"))

_tm = t.timers
#: when the next timer is due
NEXT_TIMER_DUE = sa.select(sa.func.min(_tm.c.due_at))
#: the instance of the earliest timer due at ``b_now`` (ties: the lower instance key)
DUE_TIMER = (
    sa.select(_tm.c.instance_key).where(_tm.c.due_at <= sa.bindparam("b_now"))
    .order_by(_tm.c.due_at, _tm.c.instance_key).limit(1)
)

_sub, _msg, _corr = t.subscriptions, t.messages, t.message_correlations
#: an instance's (``b_key``) subscription at a task (``b_task``) and element (``b_element``)
DELETE_SUBSCRIPTION = _sub.delete().where(
    _sub.c.instance_key == sa.bindparam("b_key"), _sub.c.task_id == sa.bindparam("b_task"),
    _sub.c.element_id == sa.bindparam("b_element"),
)
INSERT_SUBSCRIPTION = _sub.insert()
#: the oldest buffered message named ``b_name`` for ``b_correlation`` still alive at
#: ``b_now`` that instance ``b_key`` has not taken yet
BUFFERED_MESSAGE = (
    sa.select(_msg.c.key, _msg.c.variables)
    .where(
        _msg.c.name == sa.bindparam("b_name"), _msg.c.correlation_key == sa.bindparam("b_correlation"),
        _msg.c.expires_at > sa.bindparam("b_now"),
        ~sa.exists().where(_corr.c.message_key == _msg.c.key, _corr.c.instance_key == sa.bindparam("b_key")),
    )
    .order_by(_msg.c.key)
    .limit(1)
)
INSERT_CORRELATION = _corr.insert()
#: key, definition and variables of every active instance of ``b_process``
ACTIVE_INSTANCE_VARIABLES = (
    sa.select(_i.c.key, _i.c.process_definition_key, _i.c.variables)
    .where(_i.c.bpmn_process_id == sa.bindparam("b_process"), _i.c.state == "ACTIVE").order_by(_i.c.key)
)

#: a job a worker may take at ``b_now``: waiting (its retry back-off over) or timed out
_TAKEABLE = sa.or_(
    sa.and_(_j.c.state == "ACTIVATABLE", sa.or_(_j.c.retry_at.is_(None), _j.c.retry_at <= sa.bindparam("b_now"))),
    sa.and_(_j.c.state == "ACTIVATED", _j.c.deadline < sa.bindparam("b_now")),
)
#: the jobs of type ``b_type`` a worker may take at ``b_now``, oldest first, at most ``b_limit``
ACTIVATABLE_JOBS = (
    sa.select(_j).where(_j.c.type == sa.bindparam("b_type"), _TAKEABLE).order_by(_j.c.key).limit(sa.bindparam("b_limit"))
)
#: the types of the jobs a worker may take at ``b_now``
ACTIVATABLE_TYPES = sa.select(_j.c.type).distinct().where(_TAKEABLE)
#: when the next job comes back from a backoff, and when the next activation times out
NEXT_RETRY = sa.select(sa.func.min(_j.c.retry_at)).where(_j.c.state == "ACTIVATABLE")
NEXT_DEADLINE = sa.select(sa.func.min(_j.c.deadline)).where(_j.c.state == "ACTIVATED")
JOB = sa.select(_j).where(_j.c.key == sa.bindparam("b_key"))
#: changes a job (``b_key``): the columns are the parameters
UPDATE_JOB = _j.update().where(_j.c.key == sa.bindparam("b_key"))
DELETE_JOB = _j.delete().where(_j.c.key == sa.bindparam("b_key"))
INSERT_JOB = _j.insert()
#: the jobs, user tasks and timers an instance no longer waits at (``b_keys``, ``b_task_ids``: lists)
DELETE_JOBS = _j.delete().where(_j.c.key.in_(sa.bindparam("b_keys", expanding=True)))
RESOLVE_JOB_INCIDENTS = (
    t.incidents.update()
    .where(t.incidents.c.job_key.in_(sa.bindparam("b_keys", expanding=True)), t.incidents.c.state == "ACTIVE")
    .values(state="RESOLVED")
)
CANCEL_USER_TASKS = (
    t.user_tasks.update().where(t.user_tasks.c.key.in_(sa.bindparam("b_keys", expanding=True))).values(state="CANCELED")
)
DELETE_TIMERS = t.timers.delete().where(t.timers.c.task_id.in_(sa.bindparam("b_task_ids", expanding=True)))
#: moves a timer (``b_task_id``) to ``due_at``
MOVE_TIMER = t.timers.update().where(t.timers.c.task_id == sa.bindparam("b_task_id"))

USER_TASK = sa.select(t.user_tasks).where(t.user_tasks.c.key == sa.bindparam("b_key"))
#: changes a user task (``b_key``): the columns are the parameters
UPDATE_USER_TASK = t.user_tasks.update().where(t.user_tasks.c.key == sa.bindparam("b_key"))
INSERT_USER_TASK = t.user_tasks.insert()
INSERT_TIMER = t.timers.insert()
INSERT_HISTORY = t.history.insert()
