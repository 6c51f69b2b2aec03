"""Who acts on a child's PEP today: the allocated owner, or the team manager.

The PEP owner is the worker allocated to the child in the role the child's age needs
(social worker under 16, leaving care worker from 16, personal adviser from 18;
:mod:`pepflow.store.allocations`). Their user tasks are assigned to the *login* the
council's Identity knows them by (Camunda Tasklist assigns by login, never by our
staff ids). When nobody of the needed role is allocated, the tasks go unassigned to
the candidate group of the child's locality's team manager, who allocates a worker
(or acts): the PEP never waits in silence, and the task says why.

This module is the one place that maps an allocation to the assignee value the
diagram's ``=ownerAssignee`` / ``=ownerCandidateGroups`` expressions read; the web's
authorisation reads :func:`assignment_for` at each request too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .domain.enums import OwnerRole, StaffRole
from .store import RecordsStore
from .store.allocations import ROLE_LABELS, owner_on
from .store.errors import MissingAddress

#: the process variables that carry the owner's assignment (process contract)
OWNER_ASSIGNEE = "ownerAssignee"
OWNER_CANDIDATE_GROUPS = "ownerCandidateGroups"
OWNER_ROLE = "ownerRole"


@dataclass(frozen=True)
class Assignment:
    """Where a child's PEP-owner tasks go on a day."""

    child_id: str
    day: date
    role: OwnerRole
    staff_id: str | None
    #: the owner's Identity login; "" when nobody is allocated (never null: Zeebe
    #: refuses a null assignee; an empty one leaves the task to its candidate groups)
    assignee: str
    candidate_groups: tuple[str, ...]
    #: why the task went to the team manager, for the task list and the audit log
    note: str | None = None
    #: the allocated worker who is away: ``staff_id`` is their cover (pepflow.store.cover)
    covering_for: str | None = None

    @property
    def owner_staff_id(self) -> str | None:
        """The worker allocated (the PEP's owner), whoever covers them today."""
        return self.covering_for or self.staff_id

    @property
    def allocated(self) -> bool:
        return self.staff_id is not None

    def variables(self) -> dict[str, object]:
        return {OWNER_ASSIGNEE: self.assignee, OWNER_CANDIDATE_GROUPS: list(self.candidate_groups),
                OWNER_ROLE: self.role.value}


def team_manager_group(store: RecordsStore, locality: str | None) -> str:
    """The candidate group of the team manager(s) of a locality."""
    for member in store.staff_with_role(StaffRole.TEAM_MANAGER):
        if member.team == locality and member.candidate_group:
            return member.candidate_group
    raise MissingAddress(
        f"No team manager for locality {locality!r}: import a staff entry with the "
        f"team-manager role, team {locality!r} and a candidate group (e.g. team-managers-{locality})"
    )


def login_of(store: RecordsStore, staff_id: str) -> str:
    """The Identity login of a staff member (their e-mail when the import gave none)."""
    staff = store.staff(staff_id)
    return staff.login or staff.email


def assignment_for(store: RecordsStore, child_id: str, day: date) -> Assignment:
    owner = owner_on(store, child_id, day)
    if owner.staff_id is not None:
        absence = store.cover.absent_on(owner.staff_id, day)
        if absence is not None:  # away: their cover acts until they are back
            note = (f"{owner.staff_id} is away from {absence.starts_on.isoformat()} to "
                    f"{absence.ends_on.isoformat()}: {absence.cover_staff_id} covers")
            return Assignment(child_id, day, owner.role, absence.cover_staff_id,
                              login_of(store, absence.cover_staff_id), (), note, covering_for=owner.staff_id)
        return Assignment(child_id, day, owner.role, owner.staff_id, login_of(store, owner.staff_id), ())
    child = store.child(child_id)
    group = team_manager_group(store, child.locality)
    note = (f"{owner.warning()}: the task is with the team manager ({group}) until a "
            f"{ROLE_LABELS[owner.role]} is allocated")
    return Assignment(child_id, day, owner.role, None, "", (group,), note)


def owner_elements(xml: bytes | str) -> frozenset[str]:
    """The user tasks of a diagram that belong to the PEP owner: those whose assignee
    is the ``ownerAssignee`` variable (they follow the child's allocation)."""
    from lxml import etree

    data = xml.encode() if isinstance(xml, str) else xml
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    found = set()
    for task in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}userTask"):
        for assignment in task.iter("{http://camunda.org/schema/zeebe/1.0}assignmentDefinition"):
            if (assignment.get("assignee") or "").replace(" ", "") == f"={OWNER_ASSIGNEE}":
                found.add(task.get("id"))
    return frozenset(found)
