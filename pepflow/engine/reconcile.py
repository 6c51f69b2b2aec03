"""Reconciliation of wait states: after every step, the jobs, user tasks, timers and
message subscriptions are brought in line with the SpiffWorkflow task tree, and the
instance's snapshot and history are written, in the operation's transaction.

A STARTED service task is a job, a READY user task is a user task, a WAITING timer
event is a timer row, a WAITING message event is a subscription. That one rule keeps
the tables and the tree in agreement whatever path the process took.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, ParallelGateway, ServiceTask, UserTask as SpiffUserTask
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState

from ..redact import safe_text
from . import snapshot, statements as q, store as t
from .errors import EngineError, ExpressionError, InvalidState
from .events import catch_message, event_subprocesses, interrupt_for_event_subprocess, share_variables_with_event_subprocess
from .expressions import evaluate
from .shared import (
    ACTIVE,
    COMPLETED,
    WAIT_STATES,
    _correlation_string,
    _element_instance_key,
    _json,
    _Live,
    _Op,
    _parse_instant,
    _set_path,
    find_task,
    process_variables,
    waiting_tasks,
    workflows,
)
from .user_tasks import lenient_user_task, strict_user_task
from .waits import read_waits

if TYPE_CHECKING:  # pragma: no cover
    from .core import EngineCore

log = logging.getLogger(__name__)


class Reconciler:
    """Steps an instance, keeps its wait states in line with its tree and saves it."""

    def __init__(self, core: EngineCore) -> None:
        self.core = core

    def step(self, op: _Op, live: _Live) -> None:
        """Run the engine until every token waits; an error becomes an incident."""
        try:
            live.workflow.do_engine_steps()
        except (ExpressionError, WorkflowException, EngineError) as exc:
            log.debug("step failed", exc_info=True)
            task = getattr(exc, "task", None)
            element_id = getattr(getattr(task, "task_spec", None), "bpmn_id", None) or "process"
            task_id = str(task.id) if task is not None else None
            self.raise_incident(op, live.key, element_id, task_id, "EXTRACT_VALUE_ERROR", str(exc))

    def save(self, op: _Op, live: _Live) -> None:
        workflow = live.workflow
        for _ in range(20):
            if not self.reconcile(op, live):
                break
        if live.state == ACTIVE and workflow.is_completed():
            live.state = COMPLETED
        if live.state != ACTIVE:
            self.clear_waits(op, live)
        self.write_history(op, live)
        removed = snapshot.compact(workflow)
        if removed:
            gone = {str(r) for r in removed}
            live.activated -= gone
            live.finished -= gone
        text = snapshot.dump(
            workflow,
            {
                "activated": sorted(live.activated),
                "finished": sorted(live.finished),
                "event_subscriptions": live.event_subscriptions,
            },
        )
        active = sorted({e for e in self.active_elements(live)})
        values = dict(
            state=live.state, snapshot=text, active_elements=_json(active),
            variables=_json(process_variables(workflow)), revision=live.revision + 1,
        )
        if live.state != ACTIVE:
            values["ended_at"] = op.now
        result = op.conn.execute(q.SAVE_INSTANCE, {"b_key": live.key, "b_revision": live.revision, **values})
        if result.rowcount != 1:
            raise InvalidState(f"process instance {live.key} was changed by someone else; try again")
        live.revision += 1

    def active_elements(self, live: _Live) -> Iterator[str]:
        if live.state != ACTIVE:
            return
        for task in waiting_tasks(live.workflow):
            element_id = getattr(task.task_spec, "bpmn_id", None)
            # a boundary event waiting on its task is a subscription, not a token
            # a parallel join waiting for its other branches holds no token either
            if element_id and not isinstance(task.task_spec, (BoundaryEvent, ParallelGateway)):
                yield element_id

    def write_history(self, op: _Op, live: _Live) -> None:
        rows = []
        for wf in workflows(live.workflow):
            for task in wf.tasks.values():
                element_id = getattr(task.task_spec, "bpmn_id", None)
                if not element_id:
                    continue
                tid = str(task.id)
                if task.has_state(WAIT_STATES) and tid not in live.activated:
                    live.activated.add(tid)
                    rows.append((element_id, task.task_spec, "ACTIVATED"))
                elif task.has_state(TaskState.FINISHED_MASK) and tid not in live.finished:
                    if task.state == TaskState.CANCELLED and (
                        tid not in live.activated or isinstance(task.task_spec, ParallelGateway)
                    ):
                        # a predicted path never taken, or a join token merged into the
                        # one that fired: neither is a terminated element
                        live.finished.add(tid)
                        continue
                    live.finished.add(tid)
                    live.activated.add(tid)
                    event = "COMPLETED" if task.state == TaskState.COMPLETED else "TERMINATED"
                    rows.append((element_id, task.task_spec, event))
        if rows:
            op.conn.execute(
                q.INSERT_HISTORY,
                [
                    dict(
                        instance_key=live.key, element_id=element_id,
                        element_type=getattr(spec, "zeebe", None).element_type if getattr(spec, "zeebe", None) else type(spec).__name__,
                        event=event, at=op.now,
                    )
                    for element_id, spec, event in rows
                ],
            )

    def clear_waits(self, op: _Op, live: _Live) -> None:
        conn, key = op.conn, live.key
        conn.execute(t.jobs.delete().where(t.jobs.c.instance_key == key))
        conn.execute(
            t.user_tasks.update().where(t.user_tasks.c.instance_key == key, t.user_tasks.c.state == "CREATED").values(state="CANCELED")
        )
        conn.execute(t.timers.delete().where(t.timers.c.instance_key == key))
        conn.execute(t.subscriptions.delete().where(t.subscriptions.c.instance_key == key))
        conn.execute(
            t.incidents.update().where(t.incidents.c.instance_key == key, t.incidents.c.state == "ACTIVE").values(state="RESOLVED", resolved_at=op.now)
        )
        op.timers_changed = True

    def reconcile(self, op: _Op, live: _Live) -> bool:
        """Bring jobs, user tasks, timers and subscriptions in line with the task tree.
        Returns True when a buffered message was correlated (the tree moved again)."""
        if live.state != ACTIVE:
            return False
        conn, key, wf = op.conn, live.key, live.workflow
        jobs_wanted: dict[str, Any] = {}
        user_tasks_wanted: dict[str, Any] = {}
        timers_wanted: dict[str, tuple[str, datetime]] = {}
        subs_wanted: dict[tuple[str, str], tuple[str, Any]] = {}
        for task in waiting_tasks(wf):
            spec = task.task_spec
            config = getattr(spec, "zeebe", None)
            tid = str(task.id)
            if isinstance(spec, ServiceTask) and task.state == TaskState.STARTED and config is not None:
                jobs_wanted[tid] = task
            elif isinstance(spec, SpiffUserTask) and task.state == TaskState.READY:
                user_tasks_wanted[tid] = task
            elif task.state == TaskState.WAITING:
                definition = getattr(spec, "event_definition", None)
                if isinstance(definition, MultipleEventDefinition):
                    # an event-based gateway holds the events of the catch events after it
                    branches = zip(definition.event_definitions, spec.outputs)
                else:
                    branches = [(definition, spec)]
                for branch_definition, branch_spec in branches:
                    branch_config = getattr(branch_spec, "zeebe", None)
                    if isinstance(branch_definition, TimerEventDefinition):
                        due = self.timer_due(task, branch_definition)
                        if due is not None:
                            timers_wanted[tid] = (spec.bpmn_id, due)
                    elif (
                        isinstance(branch_definition, MessageEventDefinition)
                        and branch_config is not None
                        and branch_config.correlation_key
                    ):
                        subs_wanted[(tid, branch_spec.bpmn_id)] = (branch_definition.name, task, branch_config)

        # what the store holds for the instance now, in one statement (pepflow/engine/waits.py)
        waits = read_waits(conn, key)
        # jobs
        existing_jobs = waits.jobs
        for tid, task in jobs_wanted.items():
            if tid not in existing_jobs:
                self.create_job(op, live, task)
        gone_jobs = [existing_jobs[tid] for tid in existing_jobs if tid not in jobs_wanted]
        if gone_jobs:
            conn.execute(q.DELETE_JOBS, {"b_keys": gone_jobs})
            conn.execute(q.RESOLVE_JOB_INCIDENTS, {"b_keys": gone_jobs, "resolved_at": op.now})

        # user tasks
        existing_tasks = waits.user_tasks
        for tid, task in user_tasks_wanted.items():
            if tid not in existing_tasks:
                self.create_user_task(op, live, task)
        gone_tasks = [existing_tasks[tid] for tid in existing_tasks if tid not in user_tasks_wanted]
        if gone_tasks:
            conn.execute(q.CANCEL_USER_TASKS, {"b_keys": gone_tasks})

        # timers
        existing_timers = waits.timers
        for tid, (element_id, due) in timers_wanted.items():
            if existing_timers.get(tid) != due:
                if tid in existing_timers:
                    conn.execute(q.MOVE_TIMER, {"b_task_id": tid, "due_at": due})
                else:
                    conn.execute(q.INSERT_TIMER, {"task_id": tid, "instance_key": key, "element_id": element_id, "due_at": due})
                op.timers_changed = True
        gone_timers = [tid for tid in existing_timers if tid not in timers_wanted]
        if gone_timers:
            conn.execute(q.DELETE_TIMERS, {"b_task_ids": gone_timers})
            op.timers_changed = True

        # message subscriptions (catch events, and event subprocess starts)
        existing_subs = waits.subscriptions
        new_subs: list[tuple[str, str, str, str]] = []
        for (tid, element_id), (name, task, config) in subs_wanted.items():
            if (tid, element_id) in existing_subs:
                continue
            try:
                value = evaluate(config.correlation_key, task.data, op.now, f"element '{element_id}' correlationKey")
            except ExpressionError as exc:
                self.raise_incident(op, key, element_id, tid, "EXTRACT_VALUE_ERROR", str(exc))
                continue
            if value is None:
                self.raise_incident(
                    op, key, element_id, tid, "EXTRACT_VALUE_ERROR",
                    f"element '{element_id}': correlation key {config.correlation_key} is null",
                )
                continue
            new_subs.append((tid, element_id, name, _correlation_string(value)))
        if key in op.new_instances and not live.event_subscriptions:
            data = process_variables(wf)
            for sub_id, start_id, name, expression, _interrupting in event_subprocesses(live):
                try:
                    value = evaluate(expression, data, op.now, f"event subprocess '{sub_id}' correlationKey")
                except ExpressionError as exc:
                    self.raise_incident(op, key, start_id, None, "EXTRACT_VALUE_ERROR", str(exc))
                    continue
                if value is not None:
                    live.event_subscriptions.append([start_id, name, _correlation_string(value)])
        for start_id, name, value in live.event_subscriptions:
            if ("", start_id) not in existing_subs:
                new_subs.append(("", start_id, name, value))
        wanted_keys = set(subs_wanted) | {("", s[0]) for s in live.event_subscriptions}
        gone_subs = [s for s in existing_subs if s not in wanted_keys]
        for tid, element_id in gone_subs:
            conn.execute(q.DELETE_SUBSCRIPTION, {"b_key": key, "b_task": tid, "b_element": element_id})
        for tid, element_id, name, value in new_subs:
            conn.execute(
                q.INSERT_SUBSCRIPTION,
                {"instance_key": key, "task_id": tid, "element_id": element_id, "message_name": name, "correlation_key": value},
            )
        if jobs_wanted.keys() - existing_jobs.keys():
            op.woke_jobs = True

        # a new subscription takes a buffered message that is still alive
        for tid, element_id, name, value in new_subs:
            message = conn.execute(
                q.BUFFERED_MESSAGE, {"b_name": name, "b_correlation": value, "b_now": op.now, "b_key": key}
            ).first()
            if message is not None:
                conn.execute(q.INSERT_CORRELATION, {"message_key": message.key, "instance_key": key})
                self.deliver(op, live, tid, element_id, name, json.loads(message.variables))
                return True
        return False

    def timer_due(self, task, definition) -> datetime | None:
        value = task._get_internal_data("event_value")
        if value is None:
            return None
        if isinstance(definition, CycleTimerEventDefinition):
            if isinstance(value, dict):
                if value.get("cycles") == 0:
                    return None
                value = value.get("next")
        return _parse_instant(value, f"timer '{task.task_spec.bpmn_id}'")

    def create_job(self, op: _Op, live: _Live, task) -> None:
        config = task.task_spec.zeebe
        where = f"element '{config.element_id}'"
        try:
            context = dict(task.data)
            local: dict[str, Any] = {}
            for mapping in config.inputs:
                value = evaluate(mapping.source, {**context, **local}, op.now, f"{where} input mapping")
                _set_path(local, mapping.target, value)
            job_type = evaluate(config.job_type, context, op.now, where)
            retries = int(evaluate(config.job_retries, context, op.now, f"{where} retries"))
        except (ExpressionError, ValueError, TypeError) as exc:
            self.raise_incident(op, live.key, config.element_id, str(task.id), "IO_MAPPING_ERROR", str(exc))
            return
        op.conn.execute(q.INSERT_JOB, dict(
            key=self.core.key(op), instance_key=live.key, task_id=str(task.id), element_id=config.element_id,
            element_instance_key=_element_instance_key(task.id), type=job_type,
            custom_headers=_json(config.headers), local_variables=_json(local), retries=retries,
            state="ACTIVATABLE", activations=0, created_at=op.now,
        ))

    def create_user_task(self, op: _Op, live: _Live, task) -> None:
        config = task.task_spec.zeebe
        where = f"user task '{task.task_spec.bpmn_id}'"
        data = dict(task.data)
        try:
            if config is not None and self.core.strict:
                assignee, groups, users, due, follow_up = strict_user_task(config, data, op.now, where)
            else:
                assignee, groups, users, due, follow_up = lenient_user_task(config, data, op.now, where)
        except ExpressionError as exc:
            self.raise_incident(op, live.key, task.task_spec.bpmn_id, str(task.id), "EXTRACT_VALUE_ERROR", str(exc))
            return
        data.pop("data_objects", None)
        op.conn.execute(q.INSERT_USER_TASK, dict(
            key=self.core.key(op), instance_key=live.key, task_id=str(task.id), element_id=task.task_spec.bpmn_id,
            name=task.task_spec.bpmn_name, bpmn_process_id=live.definition.bpmn_process_id,
            form_id=config.form_id if config else None, assignee=assignee or None,
            candidate_groups=_json(groups), candidate_users=_json(users), due_date=due, follow_up_date=follow_up,
            state="CREATED", variables=_json(data), created_at=op.now,
        ))

    def deliver(self, op: _Op, live: _Live, task_id: str, element_id: str, name: str, payload: dict) -> None:
        if task_id:
            task = find_task(live, task_id)
            catch_message(task, name, payload)
        else:
            # an event subprocess's message start event: it sees the process variables
            variables = process_variables(live.workflow)
            live.workflow.catch(BpmnEvent(MessageEventDefinition(name), payload=dict(payload)))
            interrupt_for_event_subprocess(live, element_id)
            share_variables_with_event_subprocess(live, element_id, variables)
        self.step(op, live)

    def raise_incident(
        self, op: _Op, instance_key: int, element_id: str, task_id: str | None, error_type: str, message: str,
        *, job_key: int | None = None,
    ) -> None:
        existing = op.conn.execute(
            sa.select(t.incidents.c.key).where(
                t.incidents.c.instance_key == instance_key, t.incidents.c.element_id == element_id,
                t.incidents.c.error_type == error_type, t.incidents.c.state == "ACTIVE",
            )
        ).first()
        if existing is not None:
            return
        message = safe_text(message)  # operators read incidents: codes and references only
        log.warning("incident on %s in instance %s: %s", element_id, instance_key, message)
        op.conn.execute(
            t.incidents.insert().values(
                key=self.core.key(op), instance_key=instance_key, element_id=element_id, task_id=task_id,
                job_key=job_key, error_type=error_type, error_message=message, state="ACTIVE", created_at=op.now,
            )
        )

