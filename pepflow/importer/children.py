"""The ``children`` import: children in care, their settings, entry into care and the
workers the row names (allocated through :mod:`.allocations`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import field_validator

from pepflow.domain.enums import OwnerRole
from pepflow.domain.rules import CHILD_ID_PATTERN
from pepflow.store import RecordsStore, UnknownRecord

from .allocations import apply_child_allocations, check_child_allocations
from .rows import Collector, DateCell, Identifier, Row, exists, existing, outcome, unique_ids


class ChildRowIn(Row):
    id: str
    given_name: str
    family_name: str
    date_of_birth: DateCell
    legal_status: str | None = None
    locality: str | None = None
    social_worker_id: Identifier | None = None
    setting_id: Identifier | None = None
    setting_from: DateCell | None = None
    next_setting_id: Identifier | None = None
    next_setting_from: DateCell | None = None
    entered_care_on: DateCell | None = None
    emergency: bool = False
    leaving_care_worker_id: Identifier | None = None
    personal_adviser_id: Identifier | None = None
    allocated_from: date | None = None

    @field_validator("id")
    @classmethod
    def _child_id(cls, value: str) -> str:
        if not CHILD_ID_PATTERN.match(value):
            raise ValueError(f"{value!r} is not a child id like 'C-0001'")
        return value


def check_children(
    store: RecordsStore, rows: list[tuple[int, ChildRowIn]], errors: Collector
) -> None:
    unique_ids(rows, errors)
    staff_cache: dict[str, Any] = {}
    setting_cache: dict[str, bool] = {}
    owner_roles = {role.value for role in OwnerRole}
    for line, row in rows:
        if row.social_worker_id:
            if row.social_worker_id not in staff_cache:
                try:
                    staff_cache[row.social_worker_id] = store.staff(row.social_worker_id)
                except UnknownRecord:
                    staff_cache[row.social_worker_id] = None
            worker = staff_cache[row.social_worker_id]
            if worker is None:
                errors.add(
                    line,
                    "social_worker_id",
                    f"no staff member {row.social_worker_id!r}: import staff first",
                )
            elif not owner_roles & {role.value for role in worker.roles}:
                errors.add(
                    line,
                    "social_worker_id",
                    f"{row.social_worker_id} ({worker.name}) is not a social worker, "
                    f"leaving care worker or personal adviser",
                )
        for id_column, from_column in (
            ("setting_id", "setting_from"),
            ("next_setting_id", "next_setting_from"),
        ):
            setting_id, starts_on = getattr(row, id_column), getattr(row, from_column)
            if setting_id:
                if setting_id not in setting_cache:
                    setting_cache[setting_id] = exists(store.setting, setting_id)
                if not setting_cache[setting_id]:
                    errors.add(
                        line,
                        id_column,
                        f"no education setting {setting_id!r}: import settings first",
                    )
                if starts_on is None:
                    errors.add(
                        line, from_column, f"the date the child starts at {setting_id} is required"
                    )
            elif starts_on is not None:
                errors.add(line, id_column, f"{from_column} is given but no setting")
        if row.next_setting_id and not row.setting_id:
            errors.add(line, "setting_id", "next_setting_id needs a current setting_id")
        if row.setting_from and row.next_setting_from and row.next_setting_from <= row.setting_from:
            errors.add(line, "next_setting_from", "must be after setting_from")
        if row.date_of_birth and row.entered_care_on and row.entered_care_on < row.date_of_birth:
            errors.add(line, "entered_care_on", "is before the date of birth")
        check_child_allocations(store, line, row, errors, staff_cache)


def apply_child(store: RecordsStore, row: ChildRowIn, actor: str, notes: Collector) -> str:
    before = existing(store.child, row.id)
    before_state = (
        (before, store.enrolments(row.id), store.care_episodes(row.id)) if before else None
    )
    child = store.save_child(
        row.id,
        row.given_name,
        row.family_name,
        row.date_of_birth,
        legal_status=row.legal_status,
        locality=row.locality,
        social_worker_id=row.social_worker_id,
        carer_contact_id=before.carer_contact_id if before else None,
        actor=actor,
    )
    if row.setting_id:
        store.enrol(row.id, row.setting_id, row.setting_from, actor=actor)
    if row.next_setting_id:
        store.enrol(row.id, row.next_setting_id, row.next_setting_from, actor=actor)
    if row.entered_care_on:
        store.open_care_episode(
            row.id, row.entered_care_on, emergency=row.emergency, actor=actor
        )
    allocated = apply_child_allocations(store, row, actor, notes)
    after_state = (child, store.enrolments(row.id), store.care_episodes(row.id))
    result = outcome(before_state, after_state)
    return "updated" if allocated and result == "unchanged" else result
