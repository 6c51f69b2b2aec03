"""Who may see and do what, from the allocation at the moment of each request.

Nothing here is cached across requests: a change of allocation (an import, a team
manager's decision, a dated allocation starting, a birthday) takes effect at the next
request, for the worker who had the child and the one who has them now alike.

* A child's record: the read-all roles (PEP co-ordinator, Virtual School); a
  caseworker allocated to the child today (any role); business support and the team
  manager of the child's locality.
* A PEP owner's task (the diagram's ``=ownerAssignee`` tasks): whoever owns the PEP
  today - the worker allocated in the role the child's age needs - or, while nobody
  of that role is allocated, the locality's team manager group; the locality's team
  manager also sees (oversees) the tasks of the workers they manage.
* A team task (business support): members of its candidate group, for children of
  their own locality; once claimed, the claimant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pepflow.casework import local_date
from pepflow.domain.enums import StaffRole
from pepflow.ownership import Assignment, assignment_for, owner_elements
from pepflow.store.errors import RecordsError

from .security import Principal


@dataclass
class AccessRules:
    store: Any
    engine: Any
    clock: Any
    _owner_elements: dict[tuple[str, int], frozenset[str]] = field(default_factory=dict)

    def today(self) -> date:
        return local_date(self.clock.now())

    # ---------------------------------------------------------------- children
    def may_see_child(self, principal: Principal, child) -> bool:
        if principal.reads_all:
            return True
        if principal.is_caseworker and child.id in self.store.allocations.children_of(principal.staff_id, self.today()):
            return True
        if principal.is_caseworker and self._acts_for_child(principal, child.id):
            return True
        if (principal.is_business_support or principal.is_team_manager) and principal.team and child.locality == principal.team:
            return True
        return False

    def _acts_for_child(self, principal: Principal, child_id: str) -> bool:
        """Covering the absent worker of the child, or given one of the child's tasks."""
        day = self.today()
        for absence in self.store.cover.covered_by(principal.staff_id, day):
            if child_id in self.store.allocations.children_of(absence.staff_id, day):
                return True
        return any(t.child_id == child_id for t in self.store.cover.tasks_given_to(principal.staff_id))

    def may_reassign(self, principal: Principal, child) -> bool:
        """Give a child's task to a colleague, or cover/reallocate a worker's children:
        the PEP co-ordinator (every child), the team manager of the child's locality."""
        if not principal.can("tasks:reassign"):
            return False
        if principal.roles & {StaffRole.PEP_COORDINATOR}:
            return True
        return principal.is_team_manager and bool(principal.team) and child is not None and child.locality == principal.team

    def given_to(self, task) -> str | None:
        """The staff id an owner task was given to by name (pepflow.store.cover), if any."""
        given = self.store.cover.task_reassignment(task.user_task_key)
        return given.staff_id if given is not None else None

    def may_manage_child(self, principal: Principal, child) -> bool:
        """Allocate workers to the child: the team manager of the child's locality."""
        return principal.can("allocations:write") and principal.is_team_manager and bool(principal.team) \
            and child.locality == principal.team

    # ---------------------------------------------------------------- tasks
    def is_owner_task(self, task) -> bool:
        try:
            definition = self.engine.latest_definition(task.bpmn_process_id)
        except Exception:  # noqa: BLE001 - a process this product did not deploy has no owner tasks
            return False
        key = (task.bpmn_process_id, definition.process_definition_key)
        if key not in self._owner_elements:
            self._owner_elements[key] = owner_elements(self.engine.definition_xml(definition.process_definition_key))
        return task.element_id in self._owner_elements[key]

    def assignment(self, task) -> Assignment | None:
        child_id = task.variables.get("childId")
        if not isinstance(child_id, str):
            return None
        try:
            return assignment_for(self.store, child_id, self.today())
        except RecordsError:
            return None

    def _child(self, task):
        child_id = task.variables.get("childId")
        try:
            return self.store.child(child_id) if isinstance(child_id, str) else None
        except RecordsError:
            return None

    def may_see_task(self, principal: Principal, task) -> bool:
        if principal.reads_all:
            return True
        if self.is_owner_task(task):
            assignment = self.assignment(task)
            if assignment is None:
                return False
            # the worker acting today (or the colleague given the task); the allocated
            # worker still sees a task given to a colleague
            if principal.staff_id in {self.given_to(task), assignment.staff_id} - {None}:
                return True
            child = self._child(task)
            return principal.is_team_manager and child is not None and bool(principal.team) \
                and child.locality == principal.team
        return self._in_team(principal, task)

    def may_work_task(self, principal: Principal, task) -> bool:
        if not principal.can("tasks:work") or task.state != "CREATED":
            return False
        if self.is_owner_task(task):
            assignment = self.assignment(task)
            if assignment is None:
                return False
            given = self.given_to(task)
            if given is not None:
                return given == principal.staff_id
            if assignment.staff_id is not None:
                return assignment.staff_id == principal.staff_id
            return bool(set(principal.candidate_groups) & set(assignment.candidate_groups))
        return self._in_team(principal, task) and (task.assignee is None or principal.is_assignee(task))

    def _in_team(self, principal: Principal, task) -> bool:
        if not set(principal.candidate_groups) & set(task.candidate_groups):
            return False
        child = self._child(task)
        # a team works for its own locality's children
        return child is None or not principal.team or child.locality == principal.team

    def completes_as_owner(self, principal: Principal, task) -> bool:
        """An owner task the principal owns today although it is still assigned to
        someone else (before the allocation's tasks caught up): completing it moves
        it to them first."""
        if not self.is_owner_task(task) or principal.is_assignee(task):
            return False
        assignment = self.assignment(task)
        acting = self.given_to(task) or (assignment.staff_id if assignment is not None else None)
        return assignment is not None and acting is not None and acting == principal.staff_id
