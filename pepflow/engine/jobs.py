"""Jobs and incidents: activation (a timed-out activation is taken back and handed out
again), completion through the output mappings, failure with retries and backoff, BPMN
errors caught by boundary events, and the incidents an operator resolves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.util.task import TaskState

from . import operations, statements as q, store as t
from .errors import InvalidState, InvalidVariables, NotFound
from .expressions import evaluate
from .shared import _aware, _check_key, _incident_view, _job_view, _json, _Live, _Op, _set_path, find_task, visible_variables
from .views import ActivatedJob, Incident, Job

if TYPE_CHECKING:  # pragma: no cover
    from .core import EngineCore


def apply_result(op: _Op, task, local: dict, result: dict) -> None:
    """A job's result or a form's values through the element's output mappings
    (all into the task's scope when it has none)."""
    config = task.task_spec.zeebe
    if config is not None and config.outputs:
        context = {**task.data, **local, **result}
        where = f"element '{config.element_id}' output mapping"
        for mapping in config.outputs:
            value = evaluate(mapping.source, context, op.now, where)
            _set_path(task.data, mapping.target, value)
    else:
        task.data.update(result)


class Jobs:
    def __init__(self, core: EngineCore) -> None:
        self.core = core

    def activate_jobs(
        self,
        job_type: str,
        worker: str,
        max_jobs: int = 32,
        timeout: timedelta = timedelta(minutes=5),
        fetch_variables: list[str] | None = None,
    ) -> list[ActivatedJob]:
        """Activate up to ``max_jobs`` jobs of a type; a timed-out activation is
        taken back and handed out again."""
        with self.core.operation() as op:
            now = op.now
            rows = op.conn.execute(
                q.ACTIVATABLE_JOBS, {"b_type": job_type, "b_now": now, "b_limit": max_jobs},
            ).all()
            activated: list[ActivatedJob] = []
            deadline = now + timeout
            for row in rows:
                op.conn.execute(q.UPDATE_JOB, {
                    "b_key": row.key, "state": "ACTIVATED", "worker": worker, "deadline": deadline,
                    "retry_at": None, "activations": row.activations + 1,
                })
                live = self.core.load(op, row.instance_key)
                task = find_task(live, row.task_id)
                variables = {**visible_variables(task), **json.loads(row.local_variables)}
                if fetch_variables:
                    variables = {k: v for k, v in variables.items() if k in fetch_variables}
                activated.append(
                    ActivatedJob(
                        key=row.key, type=row.type, process_instance_key=row.instance_key,
                        bpmn_process_id=live.definition.bpmn_process_id,
                        process_definition_version=live.definition.version,
                        process_definition_key=live.definition.key, element_id=row.element_id,
                        element_instance_key=row.element_instance_key,
                        custom_headers=json.loads(row.custom_headers), worker=worker, retries=row.retries,
                        deadline=deadline, variables=variables, activation=row.activations + 1,
                    )
                )
            return activated

    def job_row(self, op: _Op, job_key: int, activation: int | None):
        _check_key(job_key, "job")
        row = op.conn.execute(q.JOB, {"b_key": job_key}).first()
        if row is None:
            raise NotFound(f"no job {job_key} (it may have been completed or its element left)")
        if row.state != "ACTIVATED":
            raise InvalidState(f"job {job_key} is not activated (state {row.state.lower()})")
        if activation is not None and row.activations != activation:
            raise InvalidState(f"job {job_key} timed out and was activated again; this result is stale")
        if _aware(row.deadline) < op.now:
            raise InvalidState(f"job {job_key} timed out at {_aware(row.deadline).isoformat()}")
        return row

    def complete_job(self, job_key: int, variables: Mapping[str, Any] | None = None, *, activation: int | None = None) -> None:
        result = dict(variables or {})
        _json(result)
        with self.core.operation() as op:
            row = self.job_row(op, job_key, activation)
            live = self.core.modify(op, row.instance_key)
            self.core.contracts.check(live.definition.bpmn_process_id, result, f"job {job_key} ({row.element_id}) result")
            task = find_task(live, row.task_id)
            local = json.loads(row.local_variables)
            apply_result(op, task, local, result)
            op.conn.execute(q.DELETE_JOB, {"b_key": job_key})
            task.complete()
            self.core.waits.step(op, live)

    def fail_job(
        self,
        job_key: int,
        retries: int,
        error_message: str = "",
        *,
        retry_backoff: timedelta = timedelta(0),
        variables: Mapping[str, Any] | None = None,
        activation: int | None = None,
    ) -> None:
        if variables:
            _json(dict(variables))  # refuse what is not JSON before anything is written
        with self.core.operation() as op:
            row = self.job_row(op, job_key, activation)
            if variables:
                live = self.core.modify(op, row.instance_key)
                self.core.contracts.check(live.definition.bpmn_process_id, dict(variables), f"job {job_key} failure variables")
                find_task(live, row.task_id).data.update(dict(variables))
            if retries > 0:
                op.conn.execute(
                    t.jobs.update().where(t.jobs.c.key == job_key).values(
                        state="ACTIVATABLE", retries=retries, worker=None, deadline=None,
                        retry_at=op.now + retry_backoff if retry_backoff > timedelta(0) else None,
                        error_message=error_message,
                    )
                )
                op.woke_jobs = True
                if retry_backoff > timedelta(0):
                    op.timers_changed = True
            else:
                op.conn.execute(
                    t.jobs.update().where(t.jobs.c.key == job_key).values(
                        state="FAILED", retries=0, worker=None, deadline=None, error_message=error_message,
                    )
                )
                self.core.waits.raise_incident(
                    op, row.instance_key, row.element_id, row.task_id, "JOB_NO_RETRIES",
                    error_message or "the job failed and has no retries left", job_key=job_key,
                )

    def throw_error(
        self,
        job_key: int,
        error_code: str,
        error_message: str = "",
        *,
        variables: Mapping[str, Any] | None = None,
        activation: int | None = None,
    ) -> None:
        """A BPMN error from a job: caught by an error boundary event on the task or
        an enclosing subprocess; an incident if nothing catches it."""
        _json(dict(variables or {}))  # refuse what is not JSON before anything is written
        with self.core.operation() as op:
            row = self.job_row(op, job_key, activation)
            live = self.core.modify(op, row.instance_key)
            self.core.contracts.check(live.definition.bpmn_process_id, dict(variables or {}), f"job {job_key} error variables")
            task = find_task(live, row.task_id)
            catcher = self.find_error_catcher(live, task, error_code)
            if catcher is None:
                op.conn.execute(
                    t.jobs.update().where(t.jobs.c.key == job_key).values(
                        state="FAILED", retries=0, worker=None, deadline=None,
                        error_message=error_message or f"unhandled error {error_code}",
                    )
                )
                self.core.waits.raise_incident(
                    op, row.instance_key, row.element_id, row.task_id, "UNHANDLED_ERROR_EVENT",
                    f"no error boundary event catches error code '{error_code}': {error_message}".strip(": "),
                    job_key=job_key,
                )
                return
            event = BpmnEvent(ErrorEventDefinition(error_code, error_code), payload=dict(variables or {}))
            catcher.task_spec.catch(catcher, event)
            catcher.task_spec._update(catcher)
            self.core.waits.step(op, live)

    def find_error_catcher(self, live: _Live, task, error_code: str):
        node = task
        while node is not None:
            parent = node.parent
            if parent is not None and parent.task_spec.__class__.__name__ == "BoundaryEventSplit":
                for sibling in parent.children:
                    if sibling is node or sibling.state != TaskState.WAITING:
                        continue
                    definition = getattr(sibling.task_spec, "event_definition", None)
                    if isinstance(definition, ErrorEventDefinition) and definition.code in (None, error_code):
                        return sibling
            # climb out of an embedded subprocess to the task that runs it
            workflow = node.workflow
            parent_task_id = getattr(workflow, "parent_task_id", None)
            node = live.workflow.get_task_from_id(parent_task_id) if parent_task_id else None
        return None

    def update_job_retries(self, job_key: int, retries: int) -> None:
        _check_key(job_key, "job")
        if retries < 0:
            raise InvalidVariables("retries must not be negative")
        with self.core.operation() as op:
            row = op.conn.execute(sa.select(t.jobs.c.key).where(t.jobs.c.key == job_key)).first()
            if row is None:
                raise NotFound(f"no job {job_key}")
            op.conn.execute(t.jobs.update().where(t.jobs.c.key == job_key).values(retries=retries))

    def update_job_timeout(self, job_key: int, timeout: timedelta) -> None:
        """An activated job's deadline becomes now + ``timeout`` (:mod:`.operations`)."""
        _check_key(job_key, "job")
        operations.update_job_timeout(self.core, job_key, timeout)

    def job(self, job_key: int) -> Job:
        _check_key(job_key, "job")
        with self.core.store.read() as conn:
            row = conn.execute(sa.select(t.jobs).where(t.jobs.c.key == job_key)).first()
        if row is None:
            raise NotFound(f"no job {job_key}")
        return _job_view(row)

    def jobs(self, process_instance_key: int | None = None) -> list[Job]:
        query = sa.select(t.jobs).order_by(t.jobs.c.key)
        if process_instance_key is not None:
            query = query.where(t.jobs.c.instance_key == process_instance_key)
        with self.core.store.read() as conn:
            return [_job_view(row) for row in conn.execute(query).all()]

    def release_jobs(self, worker_prefix: str, except_worker: str | None = None) -> int:
        """Hand back jobs activated by workers that are gone (an earlier run of the
        in-process worker), so they need not wait for their timeout."""
        with self.core.operation() as op:
            query = t.jobs.update().where(t.jobs.c.state == "ACTIVATED", t.jobs.c.worker.like(f"{worker_prefix}%"))
            if except_worker:
                query = query.where(t.jobs.c.worker != except_worker)
            count = op.conn.execute(query.values(state="ACTIVATABLE", worker=None, deadline=None)).rowcount
            op.woke_jobs = count > 0
            return count

    def next_job_due(self) -> datetime | None:
        """When the next job comes back from a backoff or a timeout (for wake-ups)."""
        with self.core.store.read() as conn:
            retry = conn.execute(q.NEXT_RETRY).scalar()
            deadline = conn.execute(q.NEXT_DEADLINE).scalar()
        values = [_aware(v) for v in (retry, deadline) if v is not None]
        return min(values) if values else None

    def activatable_job_types(self) -> set[str]:
        now = self.core.clock.now()
        with self.core.store.read() as conn:
            rows = conn.execute(q.ACTIVATABLE_TYPES, {"b_now": now}).all()
        return {row.type for row in rows}

    def incidents(self, *, state: str | None = "ACTIVE", process_instance_key: int | None = None) -> list[Incident]:
        query = sa.select(t.incidents).order_by(t.incidents.c.key)
        if state:
            query = query.where(t.incidents.c.state == state)
        if process_instance_key is not None:
            query = query.where(t.incidents.c.instance_key == process_instance_key)
        with self.core.store.read() as conn:
            return [_incident_view(row) for row in conn.execute(query).all()]

    def resolve_incident(self, incident_key: int, *, retries: int | None = None) -> None:
        """Resolve an incident after the cause was fixed. For a job incident, give the
        job ``retries`` (default 1) so a worker picks it up again."""
        _check_key(incident_key, "incident")
        with self.core.operation() as op:
            row = op.conn.execute(sa.select(t.incidents).where(t.incidents.c.key == incident_key)).first()
            if row is None:
                raise NotFound(f"no incident {incident_key}")
            if row.state != "ACTIVE":
                raise InvalidState(f"incident {incident_key} is already resolved")
            op.conn.execute(
                t.incidents.update().where(t.incidents.c.key == incident_key).values(state="RESOLVED", resolved_at=op.now)
            )
            if row.job_key is not None:
                job = op.conn.execute(sa.select(t.jobs).where(t.jobs.c.key == row.job_key)).first()
                if job is not None:
                    new_retries = retries if retries is not None else max(job.retries, 1)
                    if new_retries < 1:
                        raise InvalidState(f"job {row.job_key} has no retries; give it retries to resolve the incident")
                    op.conn.execute(
                        t.jobs.update().where(t.jobs.c.key == row.job_key).values(
                            state="ACTIVATABLE", retries=new_retries, retry_at=None
                        )
                    )
                    op.woke_jobs = True
            else:
                live = self.core.modify(op, row.instance_key)
                self.core.waits.step(op, live)
