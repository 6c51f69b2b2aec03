"""Who is allocated to a child, in which role, from when to when.

A child in care has a social worker; from 16 a leaving care worker owns their PEP,
from 18 a personal adviser (the council's flowchart). Each is an allocation of a
staff member to the child in that role, with the date it starts and (once it is
over) the date it ends. The PEP owner on any date is the allocation, on that date,
in the role the child's age needs then (:func:`owner_on`). Every change is audited
under the child, in the same transaction.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pepflow.domain.enums import OwnerRole, StaffRole
from pepflow.domain.rules import owner_role_for
from pepflow.store import records as r
from pepflow.store.core_reads import fields_of
from pepflow.store.errors import InvalidRecord, UnknownChild, UnknownStaff
from pepflow.store.models import STAFF_AND_ROLES, ChildRow, StaffAllocationRow, StaffRow

if TYPE_CHECKING:
    from pepflow.store.repository import RecordsStore

ROLE_LABELS = {
    OwnerRole.SOCIAL_WORKER: "social worker",
    OwnerRole.LEAVING_CARE_WORKER: "leaving care worker",
    OwnerRole.PERSONAL_ADVISER: "personal adviser",
}


def _record(row: StaffAllocationRow) -> r.Allocation:
    return r.Allocation(
        id=row.id, child_id=row.child_id, staff_id=row.staff_id, role=OwnerRole(row.role),
        starts_on=row.starts_on, ends_on=row.ends_on,
    )


_A = StaffAllocationRow
#: Core reads built once (issue 16): a child's allocations (``b_child``) by role and start,
#: and the one in a role (``b_role``) running on a day (``b_day``)
_FOR_CHILD = fields_of(_A).where(_A.child_id == sa.bindparam("b_child")).order_by(_A.role, _A.starts_on)
_ON = (
    fields_of(_A).where(
        _A.child_id == sa.bindparam("b_child"), _A.role == sa.bindparam("b_role"), _A.starts_on <= sa.bindparam("b_day"),
        sa.or_(_A.ends_on.is_(None), _A.ends_on >= sa.bindparam("b_day")),
    ).order_by(_A.starts_on.desc()).limit(1)
)


class StaffAllocations:
    """The allocations of the records store (``store.allocations``)."""

    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    # -- changes ----------------------------------------------------------------
    def allocate(
        self, child_id: str, staff_id: str, role: OwnerRole | str, *, starts_on: date,
        ends_on: date | None = None, actor: str, reason: str | None = None,
    ) -> tuple[r.Allocation, bool]:
        """Allocate ``staff_id`` to the child in ``role`` from ``starts_on``.

        The allocation in that role running on ``starts_on`` ends the day before;
        allocations in that role that would start later are withdrawn (this one
        replaces them). Allocating the person already allocated on that date changes
        nothing. Returns (the allocation, whether anything changed). The staff member
        must hold the role (a social worker cannot be a child's personal adviser).
        """
        role = _owner_role(role)
        if ends_on is not None and ends_on < starts_on:
            raise InvalidRecord(f"an allocation cannot end ({ends_on}) before it starts ({starts_on})")
        with self.store.uow.transaction() as s:
            child = s.get(ChildRow, child_id)
            if child is None:
                raise UnknownChild(child_id)
            staff = s.get(StaffRow, staff_id, options=STAFF_AND_ROLES)
            if staff is None:
                raise UnknownStaff(staff_id)
            if role.value not in {x.role for x in staff.roles}:
                held = ", ".join(x.role for x in staff.roles) or "no role"
                raise InvalidRecord(
                    f"{staff_id} cannot be {child_id}'s {ROLE_LABELS[role]}: their staff record "
                    f"says {held}; import them with the {role.value} role first"
                )
            rows = self._rows(s, child_id, role)
            current = next((x for x in rows if _covers(x, starts_on)), None)
            if current is not None and current.staff_id == staff_id and current.ends_on == ends_on:
                return _record(current), False
            changes: dict[str, list] = {}
            if current is not None:
                if current.starts_on == starts_on:
                    changes["withdrawn"] = [_summary(current), None]
                    s.delete(current)
                else:
                    changes["ended"] = [_summary(current), {**_summary(current), "ends_on": (starts_on - timedelta(days=1)).isoformat()}]
                    current.ends_on = starts_on - timedelta(days=1)
            for later in rows:
                if later is not current and later.starts_on > starts_on:
                    changes.setdefault("superseded", [[], None])[0].append(_summary(later))
                    s.delete(later)
            row = StaffAllocationRow(
                child_id=child_id, staff_id=staff_id, role=role.value, starts_on=starts_on,
                ends_on=ends_on, created_at=self.store.clock.now(), created_by=actor,
            )
            s.add(row)
            s.flush()
            changes[role.value] = [current.staff_id if current is not None else None, staff_id]
            changes["allocation"] = [None, _summary(row)]
            if reason:
                changes["reason"] = [None, reason]
            self.store.uow.audit(s, actor, "child", child_id, "allocate", changes)
            return _record(row), True

    def end(self, child_id: str, role: OwnerRole | str, *, on: date, actor: str, reason: str | None = None) -> r.Allocation | None:
        """The child has nobody in ``role`` from ``on`` (the allocation running then
        ends the day before). Returns the allocation that ended, if there was one."""
        role = _owner_role(role)
        with self.store.uow.transaction() as s:
            if s.get(ChildRow, child_id) is None:
                raise UnknownChild(child_id)
            rows = self._rows(s, child_id, role)
            current = next((x for x in rows if _covers(x, on)), None)
            later = [x for x in rows if x.starts_on > on]
            if current is None and not later:
                return None
            changes: dict[str, list] = {role.value: [current.staff_id if current else None, None]}
            if current is not None:
                before = _summary(current)
                if current.starts_on >= on:
                    s.delete(current)
                else:
                    current.ends_on = on - timedelta(days=1)
                changes["ended"] = [before, None]
            for row in later:
                changes.setdefault("superseded", [[], None])[0].append(_summary(row))
                s.delete(row)
            if reason:
                changes["reason"] = [None, reason]
            self.store.uow.audit(s, actor, "child", child_id, "end-allocation", changes)
            return _record(current) if current is not None else None

    # -- reads -----------------------------------------------------------------
    def on(self, child_id: str, role: OwnerRole | str, day: date) -> r.Allocation | None:
        """The allocation in ``role`` running on ``day``."""
        role = _owner_role(role)
        with self.store.uow.rows() as conn:
            row = conn.execute(_ON, {"b_child": child_id, "b_role": role.value, "b_day": day}).first()
        return _record(row) if row is not None else None

    def for_child(self, child_id: str) -> list[r.Allocation]:
        with self.store.uow.rows() as conn:  # Core: read for every PEP owner
            rows = conn.execute(_FOR_CHILD, {"b_child": child_id}).all()
        return [_record(x) for x in rows]

    def current_for_child(self, child_id: str, day: date) -> list[r.Allocation]:
        return [a for a in self.for_child(child_id) if a.covers(day)]

    def children_of(self, staff_id: str, day: date) -> set[str]:
        """Children the staff member is allocated to on ``day`` (any owner role)."""
        with self.store.uow.read() as s:
            return set(s.scalars(
                sa.select(StaffAllocationRow.child_id).where(
                    StaffAllocationRow.staff_id == staff_id, StaffAllocationRow.starts_on <= day,
                    sa.or_(StaffAllocationRow.ends_on.is_(None), StaffAllocationRow.ends_on >= day),
                )
            ).all())

    def changed_on(self, day: date) -> set[str]:
        """Children with an allocation starting on ``day`` or ending the day before."""
        with self.store.uow.read() as s:
            return set(s.scalars(
                sa.select(StaffAllocationRow.child_id).where(sa.or_(
                    StaffAllocationRow.starts_on == day,
                    StaffAllocationRow.ends_on == day - timedelta(days=1),
                ))
            ).all())

    @staticmethod
    def _rows(s, child_id: str, role: OwnerRole) -> list[StaffAllocationRow]:
        return list(s.scalars(
            sa.select(StaffAllocationRow).where(
                StaffAllocationRow.child_id == child_id, StaffAllocationRow.role == role.value,
            ).order_by(StaffAllocationRow.starts_on)
        ).all())


class Owner(r.Record):
    """Who owns a child's PEP on a date: the role the age needs and the allocation in
    it (``None``: nobody of that role is allocated - the team manager decides)."""

    child_id: str
    day: date
    role: OwnerRole
    allocation: r.Allocation | None = None
    others: tuple[r.Allocation, ...] = ()  # allocations on that date in other roles

    @property
    def staff_id(self) -> str | None:
        return self.allocation.staff_id if self.allocation else None

    def warning(self) -> str | None:
        """What a person should be told when nobody of the needed role is allocated."""
        if self.allocation is not None:
            return None
        others = ", ".join(f"{a.staff_id} ({ROLE_LABELS[a.role]})" for a in self.others)
        return (
            f"{self.child_id} needs a {ROLE_LABELS[self.role]} on {self.day.isoformat()} and none is "
            f"allocated" + (f" (allocated: {others}; their role does not fit the age)" if others else "")
        )


def owner_on(store: RecordsStore, child_id: str, day: date) -> Owner:
    """The PEP owner of a child on ``day``: social worker under 16, leaving care worker
    from 16, personal adviser from 18, as allocated on that day."""
    child = store.child(child_id)
    role = owner_role_for(child.date_of_birth, max(day, child.date_of_birth))
    allocations = store.allocations.current_for_child(child_id, day)
    mine = next((a for a in allocations if a.role == role), None)
    return Owner(child_id=child_id, day=day, role=role, allocation=mine,
                 others=tuple(a for a in allocations if a.role != role))


def pep_owner(store: RecordsStore, child_id: str, pep_day: date, today: date) -> Owner:
    """The owner recorded on a PEP: the role the child's age needs on the PEP's date,
    the allocation in it on that date (or today, for a PEP dated in the past: what
    was allocated then may never have been recorded)."""
    child = store.child(child_id)
    role = owner_role_for(child.date_of_birth, max(pep_day, child.date_of_birth))
    day = max(pep_day, today)
    allocations = store.allocations.current_for_child(child_id, day)
    mine = next((a for a in allocations if a.role == role), None)
    return Owner(child_id=child_id, day=day, role=role, allocation=mine,
                 others=tuple(a for a in allocations if a.role != role))


def _owner_role(role: OwnerRole | str) -> OwnerRole:
    try:
        return OwnerRole(role)
    except ValueError:
        allowed = ", ".join(x.value for x in OwnerRole)
        raise InvalidRecord(f"{role!r} is not an allocation role; expected one of {allowed}") from None


def _covers(row: StaffAllocationRow, day: date) -> bool:
    return row.starts_on <= day and (row.ends_on is None or day <= row.ends_on)


def _summary(row: StaffAllocationRow) -> dict:
    return {"staff_id": row.staff_id, "role": row.role, "starts_on": row.starts_on.isoformat(),
            "ends_on": row.ends_on.isoformat() if row.ends_on else None}


# A staff member may hold the role of the allocation (checked above); these are the
# staff roles that can own a PEP at all.
OWNER_STAFF_ROLES = frozenset({StaffRole.SOCIAL_WORKER, StaffRole.LEAVING_CARE_WORKER, StaffRole.PERSONAL_ADVISER})
