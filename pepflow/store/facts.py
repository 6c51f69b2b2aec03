"""Two small repositories beside the records store's facade: the council's events
(facts first, then the process is told) and escalations of late waits.

Both write through the store's unit of work, so each change and its audit entry
commit together, and both are audited under the PEP (or child) they concern.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pepflow.store import records as r
from pepflow.store.errors import UnknownChild, UnknownPep, UnknownRecord
from pepflow.store.models import PEP_AND_ATTENDEES, PEP_EXISTS, ChildRow, CouncilEventRow, EscalationRow, PepRow

if TYPE_CHECKING:  # pragma: no cover
    from pepflow.store.repository import RecordsStore


# The event and the closing of escalations are written through Core statements built
# once (issue 16): a job records an event or closes escalations about every other step,
# and the ORM's load and flush cost more than the statements.
_CHILD_EXISTS = sa.select(ChildRow.__table__.c.id).where(ChildRow.__table__.c.id == sa.bindparam("b_id"))
_INSERT_EVENT = CouncilEventRow.__table__.insert()
_escalations = EscalationRow.__table__


def _resolve_statement(of_kinds: bool) -> sa.Update:
    """Closes a PEP's (``b_pep``) open escalations, of kinds ``b_kinds`` if ``of_kinds``;
    ``resolved_at`` and ``resolution`` are the parameters. ``RETURNING`` says which it
    closed in the same statement (SQLite 3.35+, PostgreSQL)."""
    where = [_escalations.c.pep_id == sa.bindparam("b_pep"), _escalations.c.resolved_at.is_(None)]
    if of_kinds:
        where.append(_escalations.c.kind.in_(sa.bindparam("b_kinds", expanding=True)))
    return _escalations.update().where(*where).returning(_escalations.c.id, _escalations.c.kind)


_RESOLVE = {of_kinds: _resolve_statement(of_kinds) for of_kinds in (False, True)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


_EVENTS = CouncilEventRow.__table__
#: an event (``b_id``) told to the process: the columns set are the parameters; gives the row back
_TOLD_PROCESS = _EVENTS.update().where(_EVENTS.c.id == sa.bindparam("b_id")).returning(*_EVENTS.c)


class EventLog:
    """The council's events about children, oldest first."""

    def __init__(self, store: RecordsStore) -> None:
        self._store = store

    def record(
        self, kind: str, child_id: str, occurred_on: date, *, actor: str,
        care_episode_id: str | None = None, pep_id: str | None = None, details: dict[str, Any] | None = None,
    ) -> r.CouncilEvent:
        store = self._store
        with store.uow.transaction() as s:
            conn = store.uow.connection(s)
            if conn.execute(_CHILD_EXISTS, {"b_id": child_id}).first() is None:
                raise UnknownChild(child_id)
            if pep_id is not None and conn.execute(PEP_EXISTS, {"pep_id": pep_id}).first() is None:
                raise UnknownPep(pep_id)
            row = {
                "kind": kind, "child_id": child_id, "care_episode_id": care_episode_id, "pep_id": pep_id,
                "occurred_on": occurred_on, "details": _jsonable(details or {}),
                "recorded_at": store.clock.now(), "recorded_by": actor,
            }
            row["id"] = conn.execute(_INSERT_EVENT, row).inserted_primary_key[0]
            store.uow.audit(s, actor, "child", child_id, f"event:{kind}", {
                "event_id": [None, row["id"]], "occurred_on": [None, occurred_on.isoformat()],
                **({"pep_id": [None, pep_id]} if pep_id else {}),
            })
            return r.CouncilEvent.model_validate(row)

    def told_process(self, event_id: int, message_name: str, message_key: str | None) -> r.CouncilEvent:
        """Note that the process was told of the event: one Core ``UPDATE ... RETURNING``
        built once, where the ORM loaded the row and flushed it (issue 16)."""
        store = self._store
        with store.uow.transaction() as s:
            # after a flush, as the ORM's autoflush: the transaction's own event is there to update
            row = store.uow.connection(s).execute(_TOLD_PROCESS, {
                "b_id": event_id, "message_name": message_name, "message_key": message_key,
                "told_process_at": store.clock.now(),
            }).mappings().first()
            if row is None:
                raise UnknownRecord(str(event_id))
            store.uow.forget(s, CouncilEventRow, event_id)  # an ORM copy here reads the update
            return r.CouncilEvent.model_validate(dict(row))

    def for_child(self, child_id: str, kind: str | None = None) -> list[r.CouncilEvent]:
        with self._store.uow.read() as s:
            query = sa.select(CouncilEventRow).where(CouncilEventRow.child_id == child_id)
            if kind is not None:
                query = query.where(CouncilEventRow.kind == kind)
            rows = s.scalars(query.order_by(CouncilEventRow.id)).all()
            return [r.CouncilEvent.model_validate(x) for x in rows]


class Escalations:
    """Late waits the PEP co-ordinator was told about (and the dashboard shows)."""

    def __init__(self, store: RecordsStore) -> None:
        self._store = store

    def raise_(self, pep_id: str, kind: str, due_at: datetime, *, owner_staff_id: str | None) -> tuple[r.Escalation, bool]:
        """Record an escalation once per PEP, kind and deadline; ``(it, created now)``."""
        store = self._store
        with store.uow.transaction() as s:
            pep = s.get(PepRow, pep_id, options=PEP_AND_ATTENDEES)
            if pep is None:
                raise UnknownPep(pep_id)
            row = s.scalars(sa.select(EscalationRow).where(
                EscalationRow.pep_id == pep_id, EscalationRow.kind == kind, EscalationRow.due_at == due_at,
            )).first()
            if row is not None:
                return r.Escalation.model_validate(row), False
            row = EscalationRow(
                pep_id=pep_id, child_id=pep.child_id, kind=kind, owner_staff_id=owner_staff_id,
                due_at=due_at, raised_at=store.clock.now(),
            )
            s.add(row)
            s.flush()
            store.uow.audit(s, "system", "pep", pep_id, f"escalate:{kind}", {
                "due_at": [None, due_at.isoformat()], "owner_staff_id": [None, owner_staff_id],
            })
            return r.Escalation.model_validate(row), True

    def resolve(self, pep_id: str, kinds: tuple[str, ...] | None, resolution: str) -> int:
        """Close the PEP's open escalations of ``kinds`` (all when ``None``)."""
        store = self._store
        with store.uow.transaction() as s:
            params = {"b_pep": pep_id, "resolved_at": store.clock.now(), "resolution": resolution}
            if kinds is not None:
                params["b_kinds"] = list(kinds)
            # one UPDATE ... RETURNING, not a load of the open ones and an UPDATE each; in
            # id order as before (RETURNING promises none), one instant for all of them
            rows = sorted(store.uow.connection(s).execute(_RESOLVE[kinds is not None], params).all())
            store.uow.forget(s, EscalationRow, *(row.id for row in rows))
            for row in rows:
                store.uow.audit(s, "system", "pep", pep_id, f"resolve-escalation:{row.kind}", {
                    "resolution": [None, resolution],
                })
            return len(rows)

    def open(self, pep_id: str | None = None) -> list[r.Escalation]:
        with self._store.uow.read() as s:
            query = sa.select(EscalationRow).where(EscalationRow.resolved_at.is_(None))
            if pep_id is not None:
                query = query.where(EscalationRow.pep_id == pep_id)
            return [r.Escalation.model_validate(x) for x in s.scalars(query.order_by(EscalationRow.raised_at))]

    def for_pep(self, pep_id: str) -> list[r.Escalation]:
        with self._store.uow.read() as s:
            rows = s.scalars(sa.select(EscalationRow).where(EscalationRow.pep_id == pep_id).order_by(EscalationRow.id))
            return [r.Escalation.model_validate(x) for x in rows]
