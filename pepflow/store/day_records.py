"""The records the daily check of allocations reads, loaded in a few queries.

:class:`pepflow.handover.Handover` runs for every child with a running PEP process once
a day. Read one child at a time that is some ten statements per child per day (the
child, its allocations, its contacts, its setting, its owner's login, its PEP), which
made the check the largest single cost of a simulated year. :class:`DayRecords` loads
every child, allocation, contact, setting, staff member and open PEP once and answers
the same questions :func:`pepflow.ownership.assignment_for` and
:func:`pepflow.meeting_options.contact_options` ask a :class:`RecordsStore`, with the
same records and the same errors for what is not there. It is read-only and lives for
one check: a write goes to the store itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from . import records as r
from .allocations import _record as allocation_record
from .errors import UnknownChild, UnknownPep, UnknownSetting, UnknownStaff
from .models import ChildRow, ContactRow, PepRow, SettingRow, StaffAllocationRow, StaffRow
from .peps_repo import pep_record
from .staff_repo import staff_record


class _Allocations:
    def __init__(self, by_child: dict[str, list[r.Allocation]]) -> None:
        self._by_child = by_child

    def for_child(self, child_id: str) -> list[r.Allocation]:
        return list(self._by_child.get(child_id, ()))

    def current_for_child(self, child_id: str, day) -> list[r.Allocation]:
        return [a for a in self._by_child.get(child_id, ()) if a.covers(day)]


class _DayCover:
    """Staff absences and the tasks given to named colleagues for one daily check: read
    once, asked per owner and per task in memory (the answers of
    :meth:`pepflow.store.cover.StaffCover.absent_on` and ``task_reassignment``);
    anything else is asked of the store's own cover records."""

    def __init__(self, cover) -> None:
        self._cover = cover
        self._absences = cover.absences()
        self._given = None  # read at the first task asked about (most days have none)

    def absent_on(self, staff_id: str, day):
        return next((a for a in self._absences if a.staff_id == staff_id and a.covers(day)), None)

    def task_reassignment(self, user_task_key: int):
        if self._given is None:
            self._given = self._cover.task_reassignments()
        return self._given.get(user_task_key)

    def __getattr__(self, name: str):
        return getattr(self._cover, name)


class DayRecords:
    """A read-only view of the records for one daily check (see the module)."""

    def __init__(self, store, pep_ids: Iterable[str] = ()) -> None:
        self.clock = store.clock
        self.cover = _DayCover(store.cover)
        wanted_peps = sorted({p for p in pep_ids if isinstance(p, str)})
        with store.uow.read() as s:
            self._children = {
                row.id: r.Child.model_validate(row) for row in s.scalars(sa.select(ChildRow))
            }
            self._staff = {row.id: staff_record(row) for row in s.scalars(sa.select(StaffRow).options(selectinload(StaffRow.roles)).order_by(StaffRow.id))}
            self._settings = {row.id: r.Setting.model_validate(row) for row in s.scalars(sa.select(SettingRow))}
            contacts: dict[str, list[r.Contact]] = defaultdict(list)
            for row in s.scalars(sa.select(ContactRow).order_by(ContactRow.id)):
                contacts[row.child_id].append(r.Contact.model_validate(row))
            self._contacts = dict(contacts)
            allocations: dict[str, list[r.Allocation]] = defaultdict(list)
            for row in s.scalars(
                sa.select(StaffAllocationRow).order_by(StaffAllocationRow.role, StaffAllocationRow.starts_on)
            ):
                allocations[row.child_id].append(allocation_record(row))
            self.allocations = _Allocations(dict(allocations))
            self._peps: dict[str, r.Pep] = {}
            for chunk in (wanted_peps[i:i + 500] for i in range(0, len(wanted_peps), 500)):
                for row in s.scalars(sa.select(PepRow).options(selectinload(PepRow.attendees)).where(PepRow.id.in_(chunk))):
                    self._peps[row.id] = pep_record(row)

    def child(self, child_id: str) -> r.Child:
        try:
            return self._children[child_id]
        except KeyError:
            raise UnknownChild(child_id) from None

    def staff(self, staff_id: str) -> r.Staff:
        try:
            return self._staff[staff_id]
        except KeyError:
            raise UnknownStaff(staff_id) from None

    def staff_with_role(self, role) -> list[r.Staff]:
        value = getattr(role, "value", role)
        return [s for s in self._staff.values() if any(getattr(x, "value", x) == value for x in s.roles)]

    def setting(self, setting_id: str) -> r.Setting:
        try:
            return self._settings[setting_id]
        except KeyError:
            raise UnknownSetting(setting_id) from None

    def contacts_for(self, child_id: str) -> list[r.Contact]:
        self.child(child_id)
        return list(self._contacts.get(child_id, ()))

    def pep(self, pep_id: str) -> r.Pep:
        try:
            return self._peps[pep_id]
        except KeyError:
            raise UnknownPep(pep_id) from None
