"""Cover: a staff member's absence and the colleague who covers it, and a single
open task given to a named colleague.

* An **absence** (leave, sickness, training) runs from one date to another, both
  included; while it runs, the PEP-owner tasks of the children allocated to the absent
  worker - open ones and new ones - go to the covering colleague
  (:func:`pepflow.ownership.assignment_for`), and come back when it ends (the daily
  check of allocations, :mod:`pepflow.handover`). The allocation itself does not
  change: the absent worker stays the child's worker.
* A **task reassignment** gives one open PEP-owner task to a named colleague with a
  reason (a team manager or the PEP co-ordinator decides, e.g. on an escalation); it
  stays with them until it is completed or given back to the allocation.

Every change is audited (entity ``staff`` for absences, ``pep``/``child`` for a task)
in the same transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pepflow.domain.meeting_dates import long_date
from pepflow.store import records as r
from pepflow.store.core_reads import by_key, fields_of
from pepflow.store.errors import InvalidRecord, UnknownChild, UnknownStaff
from pepflow.store.models import STAFF_AND_ROLES, ChildRow, StaffAbsenceRow, StaffRow, TaskReassignmentRow

if TYPE_CHECKING:
    from pepflow.store.repository import RecordsStore

#: an absence is cover for a while, not a change of worker: longer needs a reallocation
MAX_ABSENCE_DAYS = 366
MAX_REASON = 500


class Absence(r.Record):
    id: int
    staff_id: str
    cover_staff_id: str
    starts_on: date
    ends_on: date
    reason: str
    created_by: str

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


class TaskReassignment(r.Record):
    user_task_key: int
    child_id: str
    staff_id: str
    reason: str
    created_at: datetime
    created_by: str


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidRecord("Enter the reason (it is kept in the audit log with the change)")
    if len(text) > MAX_REASON:
        raise InvalidRecord(f"The reason must be {MAX_REASON} characters or fewer (it has {len(text)})")
    return text


_ABS, _GIVEN = StaffAbsenceRow, TaskReassignmentRow
#: Core reads built once (issue 16: every daily check reads the absences and the tasks
#: given to colleagues): absences soonest first, all or those ending on or after
#: ``b_from``; those of a staff member (``b_staff``) or covered by one, on ``b_day``
_ABSENCES = fields_of(_ABS).order_by(_ABS.starts_on, _ABS.id)
_CURRENT_ABSENCES = _ABSENCES.where(_ABS.ends_on >= sa.bindparam("b_from"))
_RUNNING = (_ABS.starts_on <= sa.bindparam("b_day"), _ABS.ends_on >= sa.bindparam("b_day"))
_ABSENT_ON = fields_of(_ABS).where(_ABS.staff_id == sa.bindparam("b_staff"), *_RUNNING)
_COVERED_BY = fields_of(_ABS).where(_ABS.cover_staff_id == sa.bindparam("b_staff"), *_RUNNING)
_ALL_GIVEN = fields_of(_GIVEN)
_GIVEN_TO = fields_of(_GIVEN).where(_GIVEN.staff_id == sa.bindparam("b_staff"))


class StaffCover:
    """``store.cover``: absences and single-task reassignments."""

    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    # ------------------------------------------------------------- absences
    def add_absence(self, staff_id: str, cover_staff_id: str, *, starts_on: date, ends_on: date, reason: str,
                    actor: str, today: date) -> Absence:
        text = _reason(reason)
        if ends_on < starts_on:
            raise InvalidRecord(f"The absence cannot end ({long_date(ends_on)}) before it starts ({long_date(starts_on)})")
        if ends_on < today:
            raise InvalidRecord(f"The absence ended on {long_date(ends_on)}, in the past: nothing is left to cover")
        if (ends_on - starts_on).days >= MAX_ABSENCE_DAYS:
            raise InvalidRecord(f"An absence longer than {MAX_ABSENCE_DAYS} days is a change of worker: "
                                f"reallocate the caseload instead")
        if staff_id == cover_staff_id:
            raise InvalidRecord("A person cannot cover their own absence: choose a colleague")
        with self.store.uow.transaction() as s:
            absent = s.get(StaffRow, staff_id, options=STAFF_AND_ROLES)
            cover = s.get(StaffRow, cover_staff_id, options=STAFF_AND_ROLES)
            if absent is None:
                raise UnknownStaff(staff_id)
            if cover is None:
                raise UnknownStaff(cover_staff_id)
            held = {x.role for x in absent.roles}
            if not held & {x.role for x in cover.roles}:
                raise InvalidRecord(f"{cover.name} ({cover_staff_id}) does not hold {absent.name}'s role "
                                    f"({', '.join(sorted(held)) or 'none'}): choose a colleague who does")
            for other in self._absences(s, staff_id):
                if other.starts_on <= ends_on and starts_on <= other.ends_on:
                    raise InvalidRecord(f"{absent.name} is already recorded as away from {long_date(other.starts_on)} "
                                        f"to {long_date(other.ends_on)}: change or withdraw that absence first")
            for other in self._absences(s, cover_staff_id):
                if other.starts_on <= ends_on and starts_on <= other.ends_on:
                    raise InvalidRecord(f"{cover.name} is away from {long_date(other.starts_on)} to "
                                        f"{long_date(other.ends_on)}: choose a colleague who is at work")
            row = StaffAbsenceRow(staff_id=staff_id, cover_staff_id=cover_staff_id, starts_on=starts_on,
                                  ends_on=ends_on, reason=text, created_at=self.store.clock.now(), created_by=actor)
            s.add(row)
            s.flush()
            record = Absence.model_validate(row)
            self.store.uow.audit(s, actor, "staff", staff_id, "absence-added",
                              {"absence": [None, _absence_summary(record)]})
            return record

    def withdraw_absence(self, absence_id: int, *, actor: str, reason: str) -> Absence:
        text = _reason(reason)
        with self.store.uow.transaction() as s:
            row = s.get(StaffAbsenceRow, absence_id)
            if row is None:
                raise InvalidRecord(f"There is no absence {absence_id}: it may have been withdrawn already")
            record = Absence.model_validate(row)
            s.delete(row)
            self.store.uow.audit(s, actor, "staff", record.staff_id, "absence-withdrawn",
                              {"absence": [_absence_summary(record), None], "reason": [None, text]})
            return record

    def absence(self, absence_id: int) -> Absence | None:
        return self.store.uow.record(Absence, by_key(_ABS), {"key": absence_id})

    def absent_on(self, staff_id: str, day: date) -> Absence | None:
        return self.store.uow.record(Absence, _ABSENT_ON, {"b_staff": staff_id, "b_day": day})

    def absences(self, *, current_from: date | None = None) -> list[Absence]:
        """Every absence (ending on or after ``current_from`` when given), soonest first."""
        if current_from is None:
            return self.store.uow.records(Absence, _ABSENCES)
        return self.store.uow.records(Absence, _CURRENT_ABSENCES, {"b_from": current_from})

    def covered_by(self, staff_id: str, day: date) -> list[Absence]:
        """The absences ``staff_id`` covers on ``day``."""
        return self.store.uow.records(Absence, _COVERED_BY, {"b_staff": staff_id, "b_day": day})

    @staticmethod
    def _absences(s, staff_id: str) -> list[StaffAbsenceRow]:
        return list(s.scalars(sa.select(StaffAbsenceRow).where(StaffAbsenceRow.staff_id == staff_id)).all())

    # ------------------------------------------------------------- one task
    def reassign_task(self, user_task_key: int, child_id: str, staff_id: str, *, reason: str, actor: str,
                      audit_entity: tuple[str, str]) -> TaskReassignment:
        text = _reason(reason)
        with self.store.uow.transaction() as s:
            if s.get(ChildRow, child_id) is None:
                raise UnknownChild(child_id)
            if s.get(StaffRow, staff_id, options=STAFF_AND_ROLES) is None:
                raise UnknownStaff(staff_id)
            row = s.get(TaskReassignmentRow, user_task_key)
            before = row.staff_id if row is not None else None
            if row is None:
                row = TaskReassignmentRow(user_task_key=user_task_key, child_id=child_id, staff_id=staff_id,
                                          reason=text, created_at=self.store.clock.now(), created_by=actor)
                s.add(row)
            else:
                row.staff_id, row.reason, row.created_at, row.created_by = staff_id, text, self.store.clock.now(), actor
            s.flush()
            self.store.uow.audit(s, actor, audit_entity[0], audit_entity[1], "task-given-to",
                              {"userTaskKey": user_task_key, "staffId": [before, staff_id], "reason": [None, text]})
            return TaskReassignment.model_validate(row)

    def task_reassignment(self, user_task_key: int) -> TaskReassignment | None:
        return self.store.uow.record(TaskReassignment, by_key(_GIVEN), {"key": user_task_key})

    def task_reassignments(self) -> dict[int, TaskReassignment]:
        """Every open task given to a named colleague, by user task key (the daily
        check reads them once, not once a task)."""
        return {x.user_task_key: x for x in self.store.uow.records(TaskReassignment, _ALL_GIVEN)}

    def clear_task(self, user_task_key: int, *, actor: str, reason: str, audit_entity: tuple[str, str]) -> bool:
        with self.store.uow.transaction() as s:
            row = s.get(TaskReassignmentRow, user_task_key)
            if row is None:
                return False
            s.delete(row)
            self.store.uow.audit(s, actor, audit_entity[0], audit_entity[1], "task-given-back",
                              {"userTaskKey": user_task_key, "staffId": [row.staff_id, None], "reason": [None, reason]})
            return True

    def tasks_given_to(self, staff_id: str) -> list[TaskReassignment]:
        return self.store.uow.records(TaskReassignment, _GIVEN_TO, {"b_staff": staff_id})


def _absence_summary(a: Absence) -> dict:
    return {"id": a.id, "staff_id": a.staff_id, "cover_staff_id": a.cover_staff_id,
            "starts_on": a.starts_on.isoformat(), "ends_on": a.ends_on.isoformat(), "reason": a.reason}
