"""Saving and restoring a running instance, and keeping its stored state bounded.

SpiffWorkflow's serializer writes the process definition and every task the instance
ever ran. Here the definition is stored once per deployed version (instances refer to
it by key), and the finished part of the task tree is cut away before each save, so
a PEP instance that loops every term for years keeps a snapshot of the same size: also
beside a branch that ended early (telling the Virtual School), whose end join waits
near the start of the tree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
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


# The JSON text of a snapshot is written by orjson: the standard library's encoder was
# the largest single slice of a save (3.6% of the product's CPU in a simulated year;
# about a tenth of the time per snapshot). Spiff's own encoder still converts what JSON
# has no type for (datetimes, which orjson would otherwise write itself, and sets). What
# orjson refuses (keys that are not strings, integers beyond 64 bits, a type nobody
# converts) goes to the standard library as before: the same text, or the same error.
# The one value orjson writes differently, a NaN or an Infinity (as null), never gets
# this far: the engine refuses them in variables (``shared._json``) and FEEL turns them
# into null (``feel.to_json_value``).
_SPIFF_DEFAULT = _SERIALIZER._encoder_cls().default
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


#: The first character of a text the standard library wrote. orjson reads an integer
#: beyond 64 bits as a float (2**70 came back as 1.1805916207174113e+21 after a
#: restart), so a text orjson could not write is read back by the standard library
#: too; the leading space keeps it JSON for any other reader.
_BY_THE_STANDARD_LIBRARY = " "


def _encode(dct: dict) -> str:
    try:
        return orjson.dumps(dct, default=_SPIFF_DEFAULT, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return _BY_THE_STANDARD_LIBRARY + json.dumps(dct, separators=(",", ":"), cls=_SERIALIZER._encoder_cls)


def _decode(text: str) -> dict:
    if text.startswith(_BY_THE_STANDARD_LIBRARY):
        return json.loads(text, cls=_SERIALIZER.json_decoder_cls)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # what only the standard library reads: a NaN an earlier version let through
        return json.loads(text, cls=_SERIALIZER.json_decoder_cls)


def dump(workflow: BpmnWorkflow, extra: dict) -> str:
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = _SERIALIZER.to_dict(workflow)
    finally:
        registry._encoder_mode = False
    dct["pepflow"] = extra
    return _encode(dct)


def load(text: str, spec, subprocess_specs, script_engine) -> tuple[BpmnWorkflow, dict]:
    dct = _decode(text)
    extra = dct.pop("pepflow", {})
    dct["__spec"] = spec
    dct["__subprocess_specs"] = subprocess_specs
    dct["__script_engine"] = script_engine
    workflow = _SERIALIZER.registry.restore(dct)
    return workflow, extra


def compact(workflow: BpmnWorkflow) -> set[UUID]:
    """Cut the finished history out of the task trees; return the ids removed.

    For each (sub)workflow: the chain of finished tasks between the root and the
    deepest task that is an ancestor of every unfinished task is spliced out, keeping
    the root (event subprocesses hang off it), unfinished tasks (a multi-instance
    body's parent), the splits whose wrapped task has not finished (boundary events
    need them) and that deepest ancestor itself (its data is what
    the active tasks inherited). Finished side branches hanging off the removed chain
    go with it. Below that ancestor the same is done for each branch that holds
    unfinished tasks (:func:`_segments`), so one branch that ended early does not make
    the other keep its whole history.
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
    removed: set[UUID] = set()
    for segment in _segments(chains, 0):
        removed |= _splice(segment)
    for task_id in removed:
        wf.tasks.pop(task_id, None)
    if wf.last_task is not None and wf.last_task.id in removed:
        wf.last_task = None
    return removed


def _segments(chains: list[list], start: int) -> Iterator[list]:
    """The stretches of finished history the unfinished tasks share, branch by branch.

    ``chains`` run from the root's child down to each unfinished task and agree up to
    ``start``. They are grouped by the task at ``start`` (the branch they descend
    by); each group's common stretch from there is one segment, and below its last
    task (the anchor) the chains that go on are grouped again. So a branch that ended
    early and left a join waiting near the start of the tree (the process's end join
    after a parallel split) does not keep every later cycle of the other branch.
    """
    by_branch: dict[UUID, list[list]] = {}
    for chain in chains:
        if len(chain) > start:
            by_branch.setdefault(chain[start].id, []).append(chain)
    for branch_chains in by_branch.values():
        end = min(len(chain) for chain in branch_chains)
        first = branch_chains[0]
        n = start + 1
        while n < end and all(chain[n] is first[n] for chain in branch_chains[1:]):
            n += 1
        yield first[start:n]
        yield from _segments(branch_chains, n)


def _splice(common: list) -> set[UUID]:
    """Cut the finished tasks out of one shared stretch (first task to anchor); return
    the ids of every task removed (the finished side branches hanging off them too)."""
    # `common` are the shared ancestors; the first one links the stretch to what is
    # above it and the last one stays as the anchor of the active region.
    if len(common) < 4:
        return set()
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
    doomed = [task for task in common[1:-1] if task.id not in kept_ids]
    if not doomed:
        return set()
    # relink the kept chain
    for parent, child in zip(keep, keep[1:]):
        if child._parent != parent.id:
            # drop the parent's link to the next node of the old chain
            old_next = next(t for t in common if t.parent is parent)
            parent._children = [c for c in parent._children if c != old_next.id]
            parent._children.append(child.id)
            child._parent = parent.id
    removed: set[UUID] = set()
    for task in doomed:
        for descendant in _subtree(task, stop=kept_ids):
            removed.add(descendant.id)
    return removed


def _subtree(task, stop: set[UUID]):
    stack = [task]
    while stack:
        node = stack.pop()
        if node.id in stop:
            continue
        yield node
        stack.extend(node.children)
