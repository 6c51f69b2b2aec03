"""Open tasks follow the allocation: a change of worker, a handover on a birthday.

The PEP owner's user tasks are assigned from the child's allocation
(:mod:`pepflow.ownership`). When the allocation changes - a team manager allocates
someone, an import names a new worker, a dated allocation starts, the child turns 16
or 18 and the role their age needs changes - :meth:`Handover.follow` brings every open
owner task of the child to the person allocated now (or to the team manager's group
when nobody of that role is), updates the instance's ``ownerAssignee`` /
``ownerCandidateGroups`` / ``ownerRole`` so the tasks still to come follow too, and
records the owner on the open PEP; each move is audited on the PEP with the reason.

It is idempotent: the embedded runtime runs it for every child once a day (a birthday
or a dated allocation needs nobody to press a button) and the front ends run it for
the children an import or an allocation changed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .domain.enums import PepStatus
from .meeting_options import contact_options
from .ownership import OWNER_ASSIGNEE, OWNER_ROLE, Assignment, assignment_for, login_of, owner_elements
from .store import RecordsStore
from .store.day_records import DayRecords
from .store.allocations import ROLE_LABELS
from .store.errors import RecordsError, UnknownRecord

log = logging.getLogger(__name__)
LONDON = ZoneInfo("Europe/London")
PEP_PROCESS = "pep"
#: processes with PEP-owner tasks: the PEP itself, and the Virtual School's quality
#: review (its improvement task goes to the owner: bpmn/pep-quality.bpmn)
OWNER_PROCESSES = (PEP_PROCESS, "pep-quality")


def change_allocation(store: RecordsStore, child_id: str, role: Any, staff_id: str | None, *, on: date,
                      actor: str, reason: str) -> None:
    """A worker allocated to a child in ``role`` from ``on`` or, with no ``staff_id``,
    nobody in that role from then (the tasks go to the team manager). The one decision
    of the web's allocation and ``pep allocate``; the open tasks then follow
    (:meth:`Handover.follow`)."""
    if staff_id is None:
        store.allocations.end(child_id, role, on=on, actor=actor, reason=reason)
    else:
        store.allocations.allocate(child_id, staff_id, role, starts_on=on, actor=actor, reason=reason)

@dataclass(frozen=True)
class _Instance:
    process_instance_key: int
    process_definition_key: int
    variables: dict[str, Any]
    bpmn_process_id: str = PEP_PROCESS


@dataclass(frozen=True)
class Move:
    child_id: str
    pep_id: str | None
    user_task_key: int
    element_id: str
    assignee: tuple[str | None, str | None]
    candidate_groups: tuple[list[str], list[str]]
    reason: str


class Handover:
    def __init__(self, store: RecordsStore, engine: Any, clock: Any) -> None:
        self.store = store
        self.engine = engine  # the embedded engine (instances, user tasks, set variables)
        self.clock = clock
        self._owner_elements: dict[int, frozenset[str]] = {}
        self._last_day: date | None = None

    def today(self) -> date:
        return self.clock.now().astimezone(LONDON).date()

    # ------------------------------------------------------------------ daily
    def tick(self, now: datetime) -> None:
        """The runtime's ticker: once a day (in England), everyone's tasks follow."""
        day = now.astimezone(LONDON).date()
        if day == self._last_day:
            return
        self._last_day = day
        try:
            moves = self.follow(None, actor="system", reason="daily check of allocations (birthdays, dated allocations)")
        except Exception:  # the check must never stop the engine; it runs again tomorrow
            log.exception("the daily check of allocations failed")
            return
        if moves:
            log.info("daily check of allocations: %d task(s) moved", len(moves))

    # ------------------------------------------------------------------ follow
    def follow(self, child_ids: list[str] | set[str] | None, *, actor: str, reason: str) -> list[Move]:
        """Bring the open owner tasks of ``child_ids`` (None: every child with a running
        PEP process) to whoever is allocated today; return what moved."""
        today = self.today()
        wanted = set(child_ids) if child_ids is not None else None
        moves: list[Move] = []
        instances = [
            (process, key, definition_key, variables)
            for process in OWNER_PROCESSES
            for key, definition_key, variables in self.engine.active_instance_variables(process)
            if isinstance(variables.get("childId"), str) and (wanted is None or variables["childId"] in wanted)
        ]
        if wanted is None:
            # every child: the records and the open tasks in a few queries, not ten a child
            records: Any = DayRecords(self.store, (v.get("pepId") for _p, _k, _d, v in instances),
                                      child_ids=(v["childId"] for _p, _k, _d, v in instances))
            open_tasks: dict[int, list] | None = defaultdict(list)
            for task in self.engine.user_tasks():
                open_tasks[task.process_instance_key].append(task)
        else:
            records, open_tasks = self.store, None
        for process, key, definition_key, variables in instances:
            child_id = variables["childId"]
            instance = _Instance(key, definition_key, variables, process)
            try:
                assignment = assignment_for(records, child_id, today)
            except UnknownRecord:
                continue  # an instance for a child the records do not have: its own incident says so
            except RecordsError as exc:
                # nobody to give the tasks to (no team manager): said, not guessed
                self.store.record_event("child", child_id, "handover-blocked", actor=actor,
                                        details={"reason": reason, "problem": str(exc)})
                log.error("tasks of %s cannot follow the allocation: %s", child_id, exc)
                continue
            tasks = open_tasks.get(key, []) if open_tasks is not None else None
            moves += self._follow_instance(instance, assignment, actor=actor, reason=reason, records=records, tasks=tasks)
        return moves

    def _follow_instance(self, instance, assignment: Assignment, *, actor: str, reason: str,
                         records: Any = None, tasks: list | None = None) -> list[Move]:
        records = records if records is not None else self.store
        variables = instance.variables
        why = reason
        previous_role = variables.get(OWNER_ROLE)
        if previous_role and previous_role != assignment.role.value:
            why = (f"{assignment.child_id} now needs a {ROLE_LABELS[assignment.role]} (their age on "
                   f"{assignment.day.isoformat()}): handover from the {previous_role.replace('-', ' ')}")
        wanted = dict(assignment.variables())
        if instance.bpmn_process_id == PEP_PROCESS:
            # the meeting forms' option list names the workers allocated now
            wanted["contactOptions"] = contact_options(records, assignment.child_id, variables.get("settingId"))
        if any(variables.get(k) != v for k, v in wanted.items()):
            self.engine.set_variables(instance.process_instance_key, wanted)
        pep_id = variables.get("pepId")
        self._record_owner(pep_id, assignment, actor, why, records)
        elements = self._elements(instance.process_definition_key)
        moves = []
        if tasks is None:
            tasks = self.engine.user_tasks(process_instance_key=instance.process_instance_key)
        for task in tasks:
            if task.element_id not in elements:
                continue
            assignee = assignment.assignee or None
            groups = list(assignment.candidate_groups)
            given = records.cover.task_reassignment(task.user_task_key)
            if given is not None:  # given to a named colleague: it stays with them
                assignee, groups = login_of(self.store, given.staff_id), []
            if task.assignee == assignee and list(task.candidate_groups) == groups:
                continue
            self.engine.reassign_user_task(task.user_task_key, assignee=assignee, candidate_groups=groups)
            move = Move(assignment.child_id, pep_id, task.user_task_key, task.element_id,
                        (task.assignee, assignee), (list(task.candidate_groups), groups), why)
            details = {"userTaskKey": task.user_task_key, "elementId": task.element_id,
                       "assignee": [task.assignee, assignee], "candidateGroups": [list(task.candidate_groups), groups],
                       "staffId": given.staff_id if given else assignment.staff_id,
                       "reason": f"given to {given.staff_id} by {given.created_by}: {given.reason}" if given else why}
            if assignment.note:
                details["note"] = assignment.note
            self.store.record_event("pep" if pep_id else "child", pep_id or assignment.child_id,
                                    "task-reassigned", actor=actor, details=details)
            moves.append(move)
        return moves

    def _record_owner(self, pep_id: str | None, assignment: Assignment, actor: str, reason: str, records: Any = None) -> None:
        if not isinstance(pep_id, str):
            return
        try:
            pep = (records if records is not None else self.store).pep(pep_id)
        except RecordsError:
            return
        if pep.status in (PepStatus.FINAL, PepStatus.CANCELLED):
            return  # a finished PEP keeps who owned it
        owner = assignment.owner_staff_id  # an absent owner stays the owner; their cover acts
        if (pep.owner_role, pep.owner_staff_id) != (assignment.role, owner):
            self.store.update_pep(pep_id, actor=actor, owner_role=assignment.role, owner_staff_id=owner)
            self.store.record_event("pep", pep_id, "owner-changed", actor=actor, details={
                "role": assignment.role.value, "staffId": owner, "reason": reason})

    def _elements(self, process_definition_key: int) -> frozenset[str]:
        if process_definition_key not in self._owner_elements:
            self._owner_elements[process_definition_key] = owner_elements(
                self.engine.definition_xml(process_definition_key))
        return self._owner_elements[process_definition_key]


__all__ = ["Handover", "Move", "OWNER_ASSIGNEE"]
