"""The ``settings`` import: education settings and their designated teachers."""

from __future__ import annotations

from pepflow.domain.enums import SettingKind
from pepflow.store import RecordsStore

from .rows import Collector, EmailCell, Identifier, Row, existing, outcome, unique_ids


class SettingRowIn(Row):
    id: Identifier
    name: str
    kind: SettingKind
    designated_teacher_name: str | None = None
    designated_teacher_email: EmailCell = None
    locality: str | None = None


def check_settings(
    store: RecordsStore, rows: list[tuple[int, SettingRowIn]], errors: Collector
) -> None:
    unique_ids(rows, errors)
    for line, row in rows:
        if row.kind is not SettingKind.NONE:
            if not row.designated_teacher_name:
                errors.add(line, "designated_teacher_name", "a designated teacher is required")
            if not row.designated_teacher_email:
                errors.add(
                    line,
                    "designated_teacher_email",
                    "the designated teacher's e-mail address is required",
                )


def apply_setting(store: RecordsStore, row: SettingRowIn, actor: str, notes: Collector) -> str:
    before = existing(store.setting, row.id)
    after = store.save_setting(
        row.id,
        row.name,
        row.kind,
        designated_teacher_name=row.designated_teacher_name,
        designated_teacher_email=row.designated_teacher_email,
        locality=row.locality,
        actor=actor,
    )
    return outcome(before, after)
