"""The ``contacts`` import: a child's carers, health visitor and others, who receives
the PEP and who is the main carer."""

from __future__ import annotations

from pepflow.domain.enums import ContactRole
from pepflow.store import RecordsStore

from .rows import Collector, EmailCell, Identifier, Row, exists, existing, outcome, unique_ids


class ContactRowIn(Row):
    id: Identifier
    child_id: str
    role: ContactRole
    name: str
    email: EmailCell = None
    receives_pep: bool | None = None
    main_carer: bool = False

    @property
    def gets_pep(self) -> bool:
        if self.receives_pep is not None:
            return self.receives_pep
        return self.role in (ContactRole.HEALTH_VISITOR, ContactRole.FOSTER_CARER)


def check_contacts(
    store: RecordsStore, rows: list[tuple[int, ContactRowIn]], errors: Collector
) -> None:
    unique_ids(rows, errors)
    children: dict[str, bool] = {}
    main_carer: dict[str, int] = {}
    for line, row in rows:
        if row.child_id not in children:
            children[row.child_id] = exists(store.child, row.child_id)
        if not children[row.child_id]:
            errors.add(line, "child_id", f"no child {row.child_id!r}: import children first")
        if row.gets_pep and not row.email:
            errors.add(
                line, "email", "an e-mail address is required for someone who receives the PEP"
            )
        if row.main_carer:
            if row.child_id in main_carer:
                errors.add(
                    line,
                    "main_carer",
                    f"{row.child_id} already has a main carer on line {main_carer[row.child_id]}",
                )
            else:
                main_carer[row.child_id] = line


def apply_contact(store: RecordsStore, row: ContactRowIn, actor: str, notes: Collector) -> str:
    before = existing(store.contact, row.id)
    child_before = store.child(row.child_id)
    after = store.save_contact(
        row.id,
        row.child_id,
        row.role,
        row.name,
        email=row.email,
        receives_pep=row.gets_pep,
        actor=actor,
    )
    if row.main_carer and child_before.carer_contact_id != row.id:
        store.set_carer(row.child_id, row.id, actor=actor)
        return "created" if before is None else "updated"
    return outcome(before, after)
