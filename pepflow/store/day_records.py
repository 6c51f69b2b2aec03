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
from functools import cache
from types import SimpleNamespace

import sqlalchemy as sa

from ..domain.enums import StaffRole
from . import records as r
from .allocations import _record as allocation_record
from .core_reads import dicts, fields_of
from .errors import UnknownChild, UnknownPep, UnknownSetting, UnknownStaff
from .models import (
    ChildRow,
    ContactRow,
    PepRow,
    SettingRow,
    StaffAllocationRow,
    StaffRoleRow,
    StaffRow,
)
from .peps_repo import PEPS_WITH_ATTENDEES, peps_from_rows


#: the statements of a check, built once
_ROLES = sa.select(StaffRoleRow.staff_id, StaffRoleRow.role).order_by(StaffRoleRow.role)
_STAFF = fields_of(StaffRow).order_by(StaffRow.id)
_SETTINGS = fields_of(SettingRow)
_CONTACTS = fields_of(ContactRow).order_by(ContactRow.id)
_ALLOCATIONS = fields_of(StaffAllocationRow).order_by(StaffAllocationRow.role, StaffAllocationRow.starts_on)


def _chunks(keys: list[str], size: int = 500):
    """``IN`` lists of at most ``size`` keys (SQLite's bound-parameter limit)."""
    return (keys[i:i + size] for i in range(0, len(keys), size))


def _by_child(conn, query: sa.Select, column, child_ids: list[str] | None):
    """The rows of ``query`` as dicts by column label, only those of ``child_ids`` when
    it is given. The labels are read once per result: a ``RowMapping`` builds its key
    view again for every ``dict(row)`` or ``**row``: a quarter of the check in a
    profile of a simulated year."""
    if child_ids is None:
        results = [conn.execute(query)]
    else:
        chosen = _of_children(query, column)
        results = (conn.execute(chosen, {"b_children": chunk}) for chunk in _chunks(child_ids))
    for result in results:
        yield from dicts(result)



@cache
def _of_children(query: sa.Select, column) -> sa.Select:
    """``query`` for a list of children (``b_children``), built once: a new ``IN`` for
    every chunk made SQLAlchemy build and look up its cache key each time."""
    return query.where(column.in_(sa.bindparam("b_children", expanding=True)))


class _Allocations:
    def __init__(self, by_child: dict[str, list[r.Allocation]], loaded, store_allocations) -> None:
        self._by_child = by_child
        self._loaded = loaded  # the children read for this check; others are asked of the store
        self._store = store_allocations

    def for_child(self, child_id: str) -> list[r.Allocation]:
        if not self._loaded(child_id):
            return self._store.for_child(child_id)
        return list(self._by_child.get(child_id, ()))

    def current_for_child(self, child_id: str, day) -> list[r.Allocation]:
        if not self._loaded(child_id):
            return self._store.current_for_child(child_id, day)
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

    def __init__(self, store, pep_ids: Iterable[str] = (), child_ids: Iterable[str] | None = None) -> None:
        self.clock = store.clock
        self._store = store
        self.cover = _DayCover(store.cover)
        wanted_peps = sorted({p for p in pep_ids if isinstance(p, str)})
        # only the children the check is about (those with a running process): every
        # child the council ever had would make each day's check grow year on year
        wanted = None if child_ids is None else sorted({c for c in child_ids if isinstance(c, str)})
        self._wanted = None if wanted is None else set(wanted)
        # Core, not the ORM: thousands of rows a day become records straight away
        with store.uow.rows() as conn:
            self._children = {
                row["id"]: r.Child.model_validate(row)
                for row in _by_child(conn, fields_of(ChildRow), ChildRow.id, wanted)
            }
            roles: dict[str, list[StaffRole]] = defaultdict(list)
            for staff_id, role in conn.execute(_ROLES):
                roles[staff_id].append(StaffRole(role))
            self._staff = {
                row["id"]: r.Staff(**row, roles=tuple(roles.get(row["id"], ())))
                for row in dicts(conn.execute(_STAFF))
            }
            self._settings = {
                row["id"]: r.Setting.model_validate(row)
                for row in dicts(conn.execute(_SETTINGS))
            }
            contacts: dict[str, list[r.Contact]] = defaultdict(list)
            for row in _by_child(conn, _CONTACTS, ContactRow.child_id, wanted):
                contacts[row["child_id"]].append(r.Contact.model_validate(row))
            self._contacts = dict(contacts)
            allocations: dict[str, list[r.Allocation]] = defaultdict(list)
            for row in _by_child(conn, _ALLOCATIONS, StaffAllocationRow.child_id, wanted):
                allocations[row["child_id"]].append(allocation_record(SimpleNamespace(**row)))
            self.allocations = _Allocations(dict(allocations), self._loaded, store.allocations)
            self._peps: dict[str, r.Pep] = {}
            for chunk in _chunks(wanted_peps):
                self._peps.update(peps_from_rows(conn.execute(PEPS_WITH_ATTENDEES.where(PepRow.id.in_(chunk)))))

    def _loaded(self, child_id: str) -> bool:
        return self._wanted is None or child_id in self._wanted

    def child(self, child_id: str) -> r.Child:
        if not self._loaded(child_id):
            return self._store.child(child_id)
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
        if not self._loaded(child_id):
            return self._store.contacts_for(child_id)
        self.child(child_id)
        return list(self._contacts.get(child_id, ()))

    def pep(self, pep_id: str) -> r.Pep:
        try:
            return self._peps[pep_id]
        except KeyError:
            raise UnknownPep(pep_id) from None
