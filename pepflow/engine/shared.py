"""What the engine's concern modules share: the instance in memory (:class:`Live`), one
operation's transaction (:class:`Op`), a deployed definition, JSON and time helpers and
the read-only views built from table rows.

Nothing here touches the database or the engine's state; :mod:`.core` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .errors import ExpressionError, NotFound
from .parser import ParsedProcess
from .views import Incident, Job, UserTask

ACTIVE, COMPLETED, CANCELED = "ACTIVE", "COMPLETED", "CANCELED"
WAIT_STATES = TaskState.READY | TaskState.STARTED | TaskState.WAITING


def _json(value: Any) -> str:
    """``value`` as JSON text; refuses what is not a JSON value, NaN and Infinity too:
    they are not JSON numbers, Zeebe refuses them in a variables document, and an
    instance's stored state must read back exactly what was set (:mod:`.snapshot`)."""
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=_json_default, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"process variables must be JSON values: {exc} (NaN and Infinity are not JSON numbers)") from exc


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"process variables must be JSON values, not {type(value).__name__}")


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything the engine stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def _parse_instant(value: Any, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ExpressionError(f"{where}: {value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(v) for v in value]


_MAX_KEY = (1 << 63) - 1


def _check_key(key: int, what: str) -> int:
    """Keys are 64-bit, as in Zeebe; anything else names nothing (and must not reach
    the database as a value it cannot hold)."""
    if not isinstance(key, int) or isinstance(key, bool) or not 0 < key <= _MAX_KEY:
        raise NotFound(f"no {what} {key}")
    return key


def _element_instance_key(task_id: UUID) -> int:
    return task_id.int & ((1 << 62) - 1)


def _correlation_string(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, str) else json.dumps(value)


def _set_path(target: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            target[part] = nxt
        target = nxt
    target[parts[-1]] = value


@dataclass
class _Definition:
    key: int
    bpmn_process_id: str
    version: int
    resource_name: str
    parsed: ParsedProcess


@dataclass
class _Live:
    """An instance in memory, as of ``revision``."""

    key: int
    definition: _Definition
    workflow: BpmnWorkflow
    revision: int
    state: str
    activated: set[str] = field(default_factory=set)  # task ids with ACTIVATED written
    finished: set[str] = field(default_factory=set)  # task ids with COMPLETED/TERMINATED written
    event_subscriptions: list[list[str]] = field(default_factory=list)


class _Op:
    """What one operation touched; lives for one transaction."""

    def __init__(self, conn: sa.Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.loaded: dict[int, _Live] = {}
        self.dirty: set[int] = set()
        self.new_instances: set[int] = set()
        self.woke_jobs = False
        self.timers_changed = False


# ------------------------------------------------------------------ the task tree
def workflows(workflow: BpmnWorkflow) -> list:
    """The instance's workflow and its (embedded and call activity) subworkflows."""
    return [workflow, *workflow.subprocesses.values()]


def waiting_tasks(workflow: BpmnWorkflow) -> Iterator:
    """The tasks that hold a token or wait (READY, STARTED, WAITING) in the instance's
    workflow and its subworkflows, each once, in the order they were made.

    Read from each workflow's own task table rather than by walking the tree
    (``get_tasks``): the reconciler asks this at every save of every instance, and the
    walk took 42 us an instance against 5.4 (400 instances of a simulated year) and,
    from the top workflow, went into the subworkflows a second time."""
    for wf in workflows(workflow):
        for task in wf.tasks.values():
            if task.state & WAIT_STATES:
                yield task


def find_task(live: _Live, task_id: str):
    task = live.workflow.get_task_from_id(UUID(task_id))
    if task is None:
        raise NotFound(f"element {task_id} is no longer active in instance {live.key}")
    return task


def process_variables(workflow: BpmnWorkflow) -> dict:
    """The variables at the process scope as Zeebe shows them: those of the waiting
    tokens, latest change last."""
    if workflow.is_completed():
        data = dict(workflow.data)
    else:
        data = {}
        tasks = sorted(workflow.get_tasks(state=WAIT_STATES), key=lambda task: task.last_state_change)
        for task in tasks:
            data.update(task.data)
        if not tasks:
            data.update(workflow.data)
    data.pop("data_objects", None)
    return data


def visible_variables(task) -> dict:
    return {k: v for k, v in task.data.items() if k != "data_objects"}


# --------------------------------------------------------------- views from rows
def _job_view(row) -> Job:
    return Job(
        row.key, row.instance_key, row.element_id, row.type, row.retries, row.state, row.worker,
        _aware(row.deadline), _aware(row.retry_at), row.error_message,
    )


def _incident_view(row) -> Incident:
    return Incident(
        row.key, row.instance_key, row.element_id, row.job_key, row.error_type, row.error_message, row.state,
        _aware(row.created_at),
    )


def _user_task_view(row) -> UserTask:
    return UserTask(
        user_task_key=row.key, process_instance_key=row.instance_key, bpmn_process_id=row.bpmn_process_id,
        element_id=row.element_id, name=row.name, form_id=row.form_id, assignee=row.assignee,
        candidate_groups=json.loads(row.candidate_groups), candidate_users=json.loads(row.candidate_users),
        due_date=_aware(row.due_date), follow_up_date=_aware(row.follow_up_date), state=row.state,
        created_at=_aware(row.created_at), completed_at=_aware(row.completed_at), completed_by=row.completed_by,
        variables=json.loads(row.variables),
    )
