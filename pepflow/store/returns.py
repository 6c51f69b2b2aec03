"""Returned forms as read and as reviewed (``store.returns``; issue 12).

A returned form is kept as a document (``document_versions``, kind ``returned``)
and as a *return*: what was read from it, what was flagged, what it changes against
the returns accepted before, which version of the form came back, and business
support's decision. Every change is audited under the PEP in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from pepflow.store.core_reads import by_key, fields_of
from pepflow.store.errors import RecordsError, UnknownPep
from pepflow.store.models import PEP_EXISTS, SchoolReturnRow
from pepflow.store.values import _jsonable

if TYPE_CHECKING:
    from pepflow.store.repository import RecordsStore

PENDING = "pending"
ACCEPTED = "accepted"
QUERIED = "queried"
WITHDRAWN = "withdrawn"
STATUSES = (PENDING, ACCEPTED, QUERIED, WITHDRAWN)


#: a PEP's school returns (``b_pep``), oldest first: built once, read through Core (a
#: returned form's every step reads them; issue 16)
_FOR_PEP = fields_of(SchoolReturnRow).where(SchoolReturnRow.pep_id == sa.bindparam("b_pep")).order_by(SchoolReturnRow.id)
_PENDING = fields_of(SchoolReturnRow).where(SchoolReturnRow.status == PENDING).order_by(
    SchoolReturnRow.received_at, SchoolReturnRow.id)
#: a new return, written through Core: nothing reads the ORM object back (issue 16)
_INSERT = SchoolReturnRow.__table__.insert()
#: business support's decision, through Core: with the edits, and without them for a
#: decision that leaves them as they were (the ORM wrote only changed columns, and an
#: edits column written None would hold JSON null, not SQL NULL)
_T = SchoolReturnRow.__table__
_DECIDE = sa.update(_T).where(_T.c.id == sa.bindparam("b_id")).values(
    status=sa.bindparam("status"), query=sa.bindparam("query"), decided_at=sa.bindparam("decided_at"),
    decided_by=sa.bindparam("decided_by"))
_DECIDE_EDITS = _DECIDE.values(edits=sa.bindparam("edits"))


class StoredReturn(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    pep_id: str
    document_id: int
    form_version: int | None
    latest_form_version: int | None
    status: str
    values: dict[str, Any]
    findings: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    edits: dict[str, Any] | None = None
    query: str | None = None
    received_at: datetime
    received_by: str
    decided_at: datetime | None = None
    decided_by: str | None = None


class SchoolReturns:
    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    def add(self, pep_id: str, document_id: int, *, form_version: int | None, latest_form_version: int | None,
            values: dict[str, Any], findings: list[dict[str, Any]], changes: list[dict[str, Any]],
            actor: str) -> StoredReturn:
        with self.store.uow.transaction() as s:
            conn = self.store.uow.connection(s)
            if conn.execute(PEP_EXISTS, {"pep_id": pep_id}).first() is None:
                raise UnknownPep(pep_id)
            row = {
                "pep_id": pep_id, "document_id": document_id, "form_version": form_version,
                "latest_form_version": latest_form_version, "status": PENDING, "values": _jsonable(values),
                "findings": _jsonable(findings), "changes": _jsonable(changes),
                "received_at": self.store.clock.now(), "received_by": actor,
            }  # edits left out, as the ORM did: a JSON None would be stored as 'null', not NULL
            row["id"] = conn.execute(_INSERT, row).inserted_primary_key[0]
            self.store.uow.audit(s, actor, "pep", pep_id, "school-return-received", {
                "return_id": [None, row["id"]], "document_id": [None, document_id],
                "form_version": [None, form_version], "findings": [None, len(findings)],
                "changes": [None, _jsonable(changes)],
            })
            return StoredReturn.model_validate(row)

    def decide(self, return_id: int, status: str, *, actor: str, edits: dict[str, Any] | None = None,
               query: str | None = None) -> StoredReturn:
        """Record business support's decision on a pending return (audited with the edits
        as before -> after and the query as written)."""
        if status not in (ACCEPTED, QUERIED, WITHDRAWN):
            raise RecordsError(f"a return is decided as accepted, queried or withdrawn, not {status!r}")
        with self.store.uow.transaction() as s:
            conn = self.store.uow.connection(s)
            found = conn.execute(by_key(SchoolReturnRow), {"key": return_id}).mappings().first()
            if found is None:
                raise RecordsError(f"there is no returned form {return_id}")
            row = dict(found)
            if row["status"] != PENDING:
                raise RecordsError(
                    f"returned form {return_id} of {row['pep_id']} was already {row['status']}"
                    + (f" by {row['decided_by']}" if row["decided_by"] else "") + ": nothing to decide"
                )
            new_edits = _jsonable(edits) if edits else None
            changes = {"status": status, "query": query, "decided_at": self.store.clock.now(), "decided_by": actor}
            if new_edits != row["edits"]:
                changes["edits"] = new_edits
            conn.execute(_DECIDE_EDITS if "edits" in changes else _DECIDE, {"b_id": return_id, **changes})
            self.store.uow.forget(s, SchoolReturnRow, return_id)
            row.update(changes)
            self.store.uow.audit(s, actor, "pep", row["pep_id"], f"school-return-{status}", {
                "return_id": [row["id"], row["id"]], "status": [PENDING, status],
                **({"edits": [None, _jsonable(edits)]} if edits else {}),
                **({"query": [None, query]} if query else {}),
            })
            return StoredReturn.model_validate(row)

    def get(self, return_id: int) -> StoredReturn:
        found = self.store.uow.record(StoredReturn, by_key(SchoolReturnRow), {"key": return_id})
        if found is None:
            raise RecordsError(f"there is no returned form {return_id}")
        return found

    def for_pep(self, pep_id: str) -> list[StoredReturn]:
        return self.store.uow.records(StoredReturn, _FOR_PEP, {"b_pep": pep_id})

    def pending_for(self, pep_id: str) -> list[StoredReturn]:
        """The PEP's returns that wait for business support's review, oldest first: their
        answers are not in the PEP yet (the task pages list them; no PEP is made final
        while there is one)."""
        return [stored for stored in self.for_pep(pep_id) if stored.status == PENDING]

    def pending(self) -> list[StoredReturn]:
        return self.store.uow.records(StoredReturn, _PENDING)
