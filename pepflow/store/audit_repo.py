"""The audit log read back, and events that change no data written to it.

Every other entry is written by the repository that makes the change, in its own
transaction (:meth:`pepflow.store.unit_of_work.UnitOfWork.audit`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pepflow.store import records as r
from pepflow.store.models import AuditRow
from pepflow.store.unit_of_work import UnitOfWork
from pepflow.store.values import _jsonable


class AuditRepository:
    """The audit log (``store.audit_repo``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def record_event(self, entity: str, entity_id: str, action: str, *, actor: str, details: dict[str, Any] | None = None) -> None:
        """Audit something done with a record that changes no data (e.g. a document
        password given to a designated teacher)."""
        with self.uow.transaction() as s:
            self.uow.audit(s, actor, entity, entity_id, action, _jsonable(details or {}))

    def audit_entries(
        self, entity: str | None = None, entity_id: str | None = None
    ) -> list[r.AuditEntry]:
        """Audit entries, oldest first, optionally for one entity kind and id."""
        with self.uow.read() as s:
            query = sa.select(AuditRow).order_by(AuditRow.id)
            if entity is not None:
                query = query.where(AuditRow.entity == entity)
            if entity_id is not None:
                query = query.where(AuditRow.entity_id == entity_id)
            return [r.AuditEntry.model_validate(x) for x in s.scalars(query)]
