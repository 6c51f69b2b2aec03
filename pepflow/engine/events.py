"""Messages and event subprocesses on an instance's task tree: catching a message at
a waiting event, and starting an event subprocess as Zeebe does (it sees every process
variable; an interrupting one ends everything else in its scope).

Functions over a live instance; nothing here writes to the database.
"""

from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from .errors import EngineError
from .shared import _Live


def waiting_start_event(live: _Live, element_id: str):
    for task in live.workflow.get_tasks(state=TaskState.WAITING):
        if getattr(task.task_spec, "bpmn_id", None) == element_id:
            return task
    raise EngineError(f"start event '{element_id}' is not waiting in instance {live.key}")


def catch_message(task, name: str, payload: dict) -> None:
    event = BpmnEvent(MessageEventDefinition(name), payload=dict(payload))
    task.task_spec.catch(task, event)
    task.task_spec._update(task)


def share_variables_with_event_subprocess(live: _Live, start_element_id: str, variables: dict) -> None:
    """Spiff starts an event subprocess from the root task's data; in Zeebe it sees
    every process variable, so hand them in (the message's own variables win)."""
    wf = live.workflow
    for sub_id, start_id, _name, _key, _interrupting in event_subprocesses(live):
        if start_id != start_element_id:
            continue
        for task in wf.get_tasks(state=TaskState.NOT_FINISHED_MASK):
            if getattr(task.task_spec, "bpmn_id", None) != sub_id:
                continue
            task.data = {**variables, **task.data}
            subworkflow = wf.subprocesses.get(task.id)
            if subworkflow is not None:
                for inner in subworkflow.tasks.values():
                    inner.data = {**variables, **inner.data}


def interrupt_for_event_subprocess(live: _Live, start_element_id: str) -> None:
    """An interrupting event subprocess ends everything else in its scope."""
    for sub_id, start_id, _name, _key, interrupting in event_subprocesses(live):
        if start_id != start_element_id or not interrupting:
            continue
        wf = live.workflow
        keep: set[UUID] = set()
        for task in wf.get_tasks(state=TaskState.NOT_FINISHED_MASK):
            if getattr(task.task_spec, "bpmn_id", None) == sub_id:
                keep |= {d.id for d in task}
                subworkflow = wf.subprocesses.get(task.id)
                if subworkflow is not None:
                    keep |= set(subworkflow.tasks)
                node = task
                while node is not None:
                    keep.add(node.id)
                    node = node.parent
        for task in list(wf.get_tasks(state=TaskState.NOT_FINISHED_MASK)):
            if task.id in keep or task.has_state(TaskState.FINISHED_MASK):
                continue
            if task.task_spec.name.endswith(".EndJoin") or task.task_spec.name == "End":
                continue
            task.cancel()
        live.event_subscriptions = []


def event_subprocesses(live: _Live):
    for sub_id, start_id, name, key in live.definition.parsed.event_subprocess_messages:
        spec = live.definition.parsed.subprocess_specs.get(sub_id)
        start_spec = spec.task_specs.get(start_id) if spec is not None else None
        interrupting = getattr(start_spec, "interrupting", True) if start_spec is not None else True
        yield sub_id, start_id, name, key, interrupting
