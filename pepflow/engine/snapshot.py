"""Saving and restoring a running instance, and keeping its stored state bounded.

SpiffWorkflow's serializer writes the process definition and every task the instance
ever ran. Here the definition is stored once per deployed version (instances refer to
it by key), and the finished part of the task tree is cut away before each save, so
a PEP instance that loops every term for years keeps a snapshot of the same size.
"""

from __future__ import annotations

import json
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit, StartEventSplit
from SpiffWorkflow.util.task import TaskState


class _InstanceConverter(BpmnWorkflowConverter):
    """Like Spiff's converter, but the specs come from the engine, not the snapshot."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec = dct.pop("__spec")
        subprocess_specs = dct.pop("__subprocess_specs")
        script_engine = dct.pop("__script_engine")
        workflow = self.target_class(
            spec, subprocess_specs, script_engine=script_engine, deserializing=True
        )
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(DEFAULT_CONFIG)
    config[BpmnWorkflow] = _InstanceConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_SERIALIZER = _make_serializer()


def dump(workflow: BpmnWorkflow, extra: dict) -> str:
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = _SERIALIZER.to_dict(workflow)
    finally:
        registry._encoder_mode = False
    dct["pepflow"] = extra
    return json.dumps(dct, separators=(",", ":"), cls=_SERIALIZER._encoder_cls)


def load(text: str, spec, subprocess_specs, script_engine) -> tuple[BpmnWorkflow, dict]:
    dct = json.loads(text, cls=_SERIALIZER.json_decoder_cls)
    extra = dct.pop("pepflow", {})
    dct["__spec"] = spec
    dct["__subprocess_specs"] = subprocess_specs
    dct["__script_engine"] = script_engine
    workflow = _SERIALIZER.registry.restore(dct)
    return workflow, extra


def _is_split(task) -> bool:
    return isinstance(task.task_spec, (BoundaryEventSplit, StartEventSplit))


def compact(workflow: BpmnWorkflow) -> set[UUID]:
    """Cut the finished history out of the task trees; return the ids removed.

    For each (sub)workflow: the chain of finished tasks between the root and the
    deepest task that is an ancestor of every unfinished task is spliced out, keeping
    the root (event subprocesses hang off it), unfinished tasks (a multi-instance
    body's parent), the splits whose wrapped task has not finished (boundary events
    need them) and that deepest ancestor itself (its data is what
    the active tasks inherited). Finished side branches hanging off the removed chain
    go with it. Everything below the deepest common ancestor is left as it is.
    """
    removed: set[UUID] = set()
    workflows = [workflow, *workflow.subprocesses.values()]
    for wf in workflows:
        removed |= _compact_one(wf)
    # subprocesses whose parent task is gone are finished history too
    for task_id in list(workflow.subprocesses):
        if task_id in removed:
            sub = workflow.subprocesses.pop(task_id)
            removed |= set(sub.tasks)
    return removed


def _compact_one(wf) -> set[UUID]:
    root = wf.task_tree
    unfinished = [
        t for t in wf.tasks.values() if t is not root and not t.has_state(TaskState.FINISHED_MASK)
    ]
    if not unfinished:
        return set()
    # Event subprocesses live as children of the root; they are not on the main chain.
    chains = []
    for task in unfinished:
        chain = []
        node = task
        while node is not None and node is not root:
            chain.append(node)
            node = node.parent
        chain.reverse()  # from the root's child down to the task
        chains.append(chain)
    # group by the root's child they descend from: only the branch that carries the
    # main flow is compacted (it is the only one that grows with loops)
    by_branch: dict[UUID, list[list]] = {}
    for chain in chains:
        by_branch.setdefault(chain[0].id, []).append(chain)
    removed: set[UUID] = set()
    for branch_chains in by_branch.values():
        common = branch_chains[0]
        for chain in branch_chains[1:]:
            n = 0
            while n < len(common) and n < len(chain) and common[n] is chain[n]:
                n += 1
            common = common[:n]
        # `common` are the shared ancestors (first one is the root's child); the last
        # one stays as the anchor of the active region.
        if len(common) < 4:
            continue
        anchor = common[-1]
        keep = [common[0]]
        for task, successor in zip(common[1:-1], common[2:]):
            unfinished_here = not task.has_state(TaskState.FINISHED_MASK)
            # A split is still needed while the task it wraps has not finished, and an
            # unfinished task re-inherits its data from its parent when it is updated,
            # so the parent of every unfinished task (the anchor included) stays.
            successor_unfinished = not successor.has_state(TaskState.FINISHED_MASK)
            if unfinished_here or successor_unfinished:
                keep.append(task)
        keep.append(anchor)
        kept_ids = {t.id for t in keep}
        doomed = []
        for task in common[1:-1]:
            if task.id in kept_ids:
                continue
            doomed.append(task)
        if not doomed:
            continue
        # relink the kept chain
        for parent, child in zip(keep, keep[1:]):
            if child._parent != parent.id:
                # drop the parent's link to the next node of the old chain
                old_next = next(t for t in common if t.parent is parent)
                parent._children = [c for c in parent._children if c != old_next.id]
                parent._children.append(child.id)
                child._parent = parent.id
        for task in doomed:
            for descendant in _subtree(task, stop=kept_ids):
                removed.add(descendant.id)
    for task_id in removed:
        wf.tasks.pop(task_id, None)
    if wf.last_task is not None and wf.last_task.id in removed:
        wf.last_task = None
    return removed


def _subtree(task, stop: set[UUID]):
    stack = [task]
    while stack:
        node = stack.pop()
        if node.id in stop:
            continue
        yield node
        stack.extend(node.children)
