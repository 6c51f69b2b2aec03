"""The ``allocations`` import and the worker columns of ``children`` (see :mod:`pepflow.importer`).

Children rows name the child's workers (``social_worker_id``, ``leaving_care_worker_id``,
``personal_adviser_id``); the ``allocations`` kind carries dated allocations. Both end
in :class:`pepflow.store.allocations.StaffAllocations`; what a person should know (a
worker named in the wrong column, a child whose age needs a worker nobody is allocated
as) is a note on the import, never silent.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import model_validator

from pepflow.domain.enums import OwnerRole, StaffRole
from .rows import Identifier, Row
from pepflow.store import RecordsStore, UnknownRecord
from pepflow.store.allocations import ROLE_LABELS, owner_on

# the column of a children row that names the worker of each role
WORKER_COLUMNS = {
    "social_worker_id": OwnerRole.SOCIAL_WORKER,
    "leaving_care_worker_id": OwnerRole.LEAVING_CARE_WORKER,
    "personal_adviser_id": OwnerRole.PERSONAL_ADVISER,
}


class AllocationRowIn(Row):
    child_id: Identifier
    staff_id: Identifier | None = None
    role: OwnerRole
    starts_on: date
    ends_on: date | None = None

    @model_validator(mode="after")
    def _dates(self) -> AllocationRowIn:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if self.staff_id is None and self.ends_on is not None:
            raise ValueError("a row without staff_id ends the role from starts_on; leave ends_on blank")
        return self


def _today(store: RecordsStore) -> date:
    from zoneinfo import ZoneInfo

    return store.clock.now().astimezone(ZoneInfo("Europe/London")).date()


def _staff(store: RecordsStore, staff_id: str, cache: dict[str, Any]):
    if staff_id not in cache:
        try:
            cache[staff_id] = store.staff(staff_id)
        except UnknownRecord:
            cache[staff_id] = None
    return cache[staff_id]


def allocation_role(column: str, staff) -> tuple[OwnerRole, str | None]:
    """The role a worker column allocates in, and a note when it is not the column's
    own: ``social_worker_id`` has long held whoever the child's worker is, so a leaving
    care worker or personal adviser there is allocated in their own role."""
    role = WORKER_COLUMNS[column]
    held = {OwnerRole(r.value) for r in staff.roles if r.value in {x.value for x in OwnerRole}}
    if role in held or column != "social_worker_id" or len(held) != 1:
        return role, None
    (own,) = held
    return own, (f"{staff.id} is a {ROLE_LABELS[own]}, not a social worker: allocated as the child's "
                 f"{ROLE_LABELS[own]} (name them in the {own.value.replace('-', '_')}_id column)")


def check_child_allocations(store: RecordsStore, line: int, row, errors, cache: dict[str, Any]) -> None:
    for column in ("leaving_care_worker_id", "personal_adviser_id"):
        staff_id = getattr(row, column)
        if not staff_id:
            continue
        staff = _staff(store, staff_id, cache)
        if staff is None:
            errors.add(line, column, f"no staff member {staff_id!r}: import staff first")
        elif WORKER_COLUMNS[column].value not in {r.value for r in staff.roles}:
            errors.add(line, column, f"{staff_id} is not a {ROLE_LABELS[WORKER_COLUMNS[column]]} "
                       f"(their roles: {', '.join(r.value for r in staff.roles)})")
    if row.allocated_from and row.date_of_birth and row.allocated_from < row.date_of_birth:
        errors.add(line, "allocated_from", "is before the date of birth")
    if row.allocated_from and not any(getattr(row, c, None) for c in WORKER_COLUMNS):
        errors.add(line, "allocated_from", "is given but the row names no worker")


def apply_child_allocations(store: RecordsStore, row, actor: str, notes) -> bool:
    """Allocate the workers a children row names; True when an allocation changed."""
    starts_on = row.allocated_from or _today(store)
    changed = False
    for column in WORKER_COLUMNS:
        staff_id = getattr(row, column, None)
        if not staff_id:
            continue
        role, note = allocation_role(column, store.staff(staff_id))
        if note:
            notes.warn(None, column, note)
        _allocation, did = store.allocations.allocate(
            row.id, staff_id, role, starts_on=starts_on, actor=actor, reason=f"import ({column})")
        changed |= did
    if changed:
        notes.changed_children.add(row.id)
    _note_owner(store, row.id, notes)
    return changed


def check_allocations(store: RecordsStore, rows, errors) -> None:
    children: dict[str, bool] = {}
    cache: dict[str, Any] = {}
    for line, row in rows:
        if row.child_id not in children:
            try:
                store.child(row.child_id)
                children[row.child_id] = True
            except UnknownRecord:
                children[row.child_id] = False
        if not children[row.child_id]:
            errors.add(line, "child_id", f"no child {row.child_id!r}: import children first")
        if row.staff_id:
            staff = _staff(store, row.staff_id, cache)
            if staff is None:
                errors.add(line, "staff_id", f"no staff member {row.staff_id!r}: import staff first")
            elif row.role.value not in {r.value for r in staff.roles}:
                errors.add(line, "staff_id", f"{row.staff_id} is not a {ROLE_LABELS[row.role]} "
                           f"(their roles: {', '.join(r.value for r in staff.roles)})")


def apply_allocation_row(store: RecordsStore, row: AllocationRowIn, actor: str, notes) -> str:
    if row.staff_id is None:
        ended = store.allocations.end(row.child_id, row.role, on=row.starts_on, actor=actor, reason="import")
        changed = ended is not None
    else:
        _allocation, changed = store.allocations.allocate(
            row.child_id, row.staff_id, row.role, starts_on=row.starts_on, ends_on=row.ends_on,
            actor=actor, reason="import (allocations)")
    if changed:
        notes.changed_children.add(row.child_id)
    _note_owner(store, row.child_id, notes)
    return "created" if changed else "unchanged"


def _note_owner(store: RecordsStore, child_id: str, notes) -> None:
    """A child in care whose age needs a worker of a role nobody is allocated in."""
    if store.current_care_episode(child_id) is None:
        return
    owner = owner_on(store, child_id, _today(store))
    warning = owner.warning()
    if warning:
        notes.warn(None, None, f"{warning}: their PEP tasks go to the locality's team manager "
                   f"({StaffRole.TEAM_MANAGER.value}) until one is allocated")
