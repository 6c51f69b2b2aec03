"""Pupil Premium Plus requests in the records store.

A request is for one target of a PEP (its number, 1..n, on that PEP): an amount in
pounds and pence, what it pays for, made for the school the child attends. The Virtual
School approves or refuses it with its reason; an approved request counts in the UK
financial year (1 April - 31 March) of the day it was approved. At the next PEP the
school records what the money achieved (its impact).

Amounts are Decimal pounds here and whole pence in the table. Every change is audited
under the PEP (entity ``pep``) in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from pepflow.domain.enums import PepSection, PepStatus
from pepflow.domain.quality import (
    MAX_IMPACT,
    MAX_PURPOSE,
    PppStatus,
    check_words,
    financial_year_bounds,
    financial_year_of,
    from_pence,
    parse_money,
    pounds,
    to_pence,
)
from pepflow.store import records as r
from pepflow.store.errors import InvalidRecord, UnknownPep, UnknownRecord
from pepflow.store.models import PEP_AND_ATTENDEES, PepRow, PepSectionRow
from pepflow.store.quality_models import PppRequestRow

if TYPE_CHECKING:  # pragma: no cover
    from pepflow.store.repository import RecordsStore

LONDON = ZoneInfo("Europe/London")


class PppRefused(InvalidRecord):
    """A request or decision that cannot be made: the message says why and what to do."""


class PppRequest(r.Record):
    id: int
    pep_id: str
    child_id: str
    setting_id: str | None
    target_number: int
    amount: Decimal
    purpose: str
    status: PppStatus
    requested_at: datetime
    requested_by: str
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    financial_year: int | None
    impact: str | None
    impact_recorded_at: datetime | None
    impact_recorded_by: str | None
    impact_pep_id: str | None


def _record(row: PppRequestRow) -> PppRequest:
    return PppRequest(
        id=row.id, pep_id=row.pep_id, child_id=row.child_id, setting_id=row.setting_id,
        target_number=row.target_number, amount=from_pence(row.amount_pence), purpose=row.purpose,
        status=PppStatus(row.status), requested_at=row.requested_at, requested_by=row.requested_by,
        decided_at=row.decided_at, decided_by=row.decided_by, decision_reason=row.decision_reason,
        financial_year=row.financial_year, impact=row.impact, impact_recorded_at=row.impact_recorded_at,
        impact_recorded_by=row.impact_recorded_by, impact_pep_id=row.impact_pep_id,
    )


def target_numbers(content: dict | None) -> list[tuple[int, str]]:
    """(number, words) of the targets a PEP's school return records: each target's own
    number (its row on the form, its id in the PEP), else its place in the list."""
    targets = (content or {}).get("targets") or []
    if not isinstance(targets, list):
        return []
    found = []
    for place, target in enumerate(targets, start=1):
        if isinstance(target, dict):
            number = target.get("number") if isinstance(target.get("number"), int) else place
            found.append((number, str(target.get("target") or "")))
    return sorted(found)


class PppRecords:
    """Pupil Premium Plus requests (``PppRecords(store)``)."""

    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    def request(self, pep_id: str, target_number: int | str, amount: str | Decimal, purpose: str, *,
                actor: str) -> PppRequest:
        """A request for target ``target_number`` of the PEP."""
        amount_value = _refused_unless(lambda: parse_money(amount))
        purpose_text = _refused_unless(lambda: check_words(purpose, "what the money is for", limit=MAX_PURPOSE))
        try:
            number = int(str(target_number).strip())
        except ValueError:
            raise PppRefused(f"the target number must be a whole number (1, 2, ...), not {target_number!r}") from None
        with self.store.uow.transaction() as s:
            pep = s.get(PepRow, pep_id, options=PEP_AND_ATTENDEES)
            if pep is None:
                raise UnknownPep(pep_id)
            if pep.status == PepStatus.CANCELLED.value:
                raise PppRefused(f"{pep_id} was cancelled: request Pupil Premium Plus on the child's current PEP")
            section = s.get(PepSectionRow, (pep_id, PepSection.SCHOOL_RETURN.value))
            numbers = [n for n, _words in target_numbers(section.content if section else None)]
            if not numbers:
                raise PppRefused(f"{pep_id} has no targets recorded yet: Pupil Premium Plus is requested for a "
                                 "target, so record the PEP's targets first")
            if number not in numbers:
                raise PppRefused(f"{pep_id} has {len(numbers)} target(s), numbered {', '.join(map(str, numbers))}: "
                                 f"there is no target {number}")
            row = PppRequestRow(
                pep_id=pep_id, child_id=pep.child_id, setting_id=pep.setting_id, target_number=number,
                amount_pence=to_pence(amount_value), purpose=purpose_text, status=PppStatus.REQUESTED.value,
                requested_at=self.store.clock.now(), requested_by=actor,
            )
            s.add(row)
            s.flush()
            self.store.uow.audit(s, actor, "pep", pep_id, "ppp-requested", {
                "request_id": [None, row.id], "target": [None, number], "amount": [None, str(amount_value)],
                "purpose": [None, purpose_text]})
            return _record(row)

    def decide(self, request_id: int, approve: bool, reason: str | None, *, actor: str) -> PppRequest:
        """Approve or refuse a request that waits for a decision. A refusal needs its
        reason; the reason of an approval is optional. An approval counts in the
        financial year of today (England)."""
        words = _refused_unless(lambda: check_words(
            reason, "the reason for refusing" if not approve else "the note", limit=MAX_PURPOSE, required=not approve))
        with self.store.uow.transaction() as s:
            row = s.get(PppRequestRow, request_id)
            if row is None:
                raise UnknownRecord(str(request_id), "no such Pupil Premium Plus request")
            if row.status != PppStatus.REQUESTED.value:
                raise PppRefused(f"request {request_id} was already {row.status} on "
                                 f"{row.decided_at.astimezone(LONDON):%d/%m/%Y}: a decision is made once")
            now = self.store.clock.now()
            row.status = (PppStatus.APPROVED if approve else PppStatus.REFUSED).value
            row.decided_at, row.decided_by, row.decision_reason = now, actor, words
            row.financial_year = financial_year_of(now.astimezone(LONDON).date()) if approve else None
            s.flush()
            self.store.uow.audit(s, actor, "pep", row.pep_id, "ppp-approved" if approve else "ppp-refused", {
                "request_id": [None, row.id], "status": [PppStatus.REQUESTED.value, row.status],
                "amount": [None, str(from_pence(row.amount_pence))],
                **({"financial_year": [None, row.financial_year]} if approve else {}),
                **({"reason": [None, words]} if words else {})})
            return _record(row)

    def record_impact(self, request_id: int, impact: str, *, at_pep_id: str, actor: str) -> PppRequest:
        """What an approved request's money achieved, recorded at a later PEP of the
        same child (normally the next term's)."""
        words = _refused_unless(lambda: check_words(impact, "the impact", limit=MAX_IMPACT))
        with self.store.uow.transaction() as s:
            row = s.get(PppRequestRow, request_id)
            if row is None:
                raise UnknownRecord(str(request_id), "no such Pupil Premium Plus request")
            if row.status != PppStatus.APPROVED.value:
                raise PppRefused(f"request {request_id} is {row.status}: impact is recorded for money approved")
            pep = s.get(PepRow, at_pep_id, options=PEP_AND_ATTENDEES)
            if pep is None:
                raise UnknownPep(at_pep_id)
            spent_at = s.get(PepRow, row.pep_id, options=PEP_AND_ATTENDEES)
            if pep.child_id != row.child_id or at_pep_id == row.pep_id or pep.created_at < spent_at.created_at:
                raise PppRefused(f"the impact of request {request_id} is recorded at a later PEP of {row.child_id}, "
                                 f"not at {at_pep_id}")
            before = row.impact
            row.impact, row.impact_recorded_at, row.impact_recorded_by = words, self.store.clock.now(), actor
            row.impact_pep_id = at_pep_id
            s.flush()
            self.store.uow.audit(s, actor, "pep", at_pep_id, "ppp-impact", {
                "request_id": [None, row.id], "impact": [before, words]})
            return _record(row)

    # -- reads --------------------------------------------------------------------
    def get(self, request_id: int) -> PppRequest:
        with self.store.uow.read() as s:
            row = s.get(PppRequestRow, request_id)
            if row is None:
                raise UnknownRecord(str(request_id), "no such Pupil Premium Plus request")
            return _record(row)

    def for_pep(self, pep_id: str) -> list[PppRequest]:
        return self._where(PppRequestRow.pep_id == pep_id)

    def for_child(self, child_id: str) -> list[PppRequest]:
        return self._where(PppRequestRow.child_id == child_id)

    def last_terms_spend(self, pep_id: str) -> list[PppRequest]:
        """Approved requests of the child's earlier PEPs whose impact is not recorded
        yet, or was recorded at this PEP: what this PEP reviews."""
        pep = self.store.pep(pep_id)
        earlier = {p.id for p in self.store.peps_for(pep.child_id) if p.id != pep_id and p.created_at <= pep.created_at}
        return [x for x in self.for_child(pep.child_id)
                if x.pep_id in earlier and x.status is PppStatus.APPROVED and x.impact_pep_id in (None, pep_id)]

    def decided_in_year(self, financial_year: int) -> list[PppRequest]:
        """Requests approved in the financial year, and those refused in it."""
        first, last = financial_year_bounds(financial_year)
        rows = self._where(PppRequestRow.decided_at.is_not(None))
        return [x for x in rows if first <= x.decided_at.astimezone(LONDON).date() <= last]

    def waiting(self) -> list[PppRequest]:
        return self._where(PppRequestRow.status == PppStatus.REQUESTED.value)

    def _where(self, condition) -> list[PppRequest]:
        with self.store.uow.read() as s:
            rows = s.scalars(sa.select(PppRequestRow).where(condition).order_by(PppRequestRow.id)).all()
            return [_record(x) for x in rows]


def _refused_unless(make):
    try:
        return make()
    except ValueError as exc:
        raise PppRefused(str(exc)) from None


def describe(request: PppRequest) -> str:
    return f"request {request.id}: {pounds(request.amount)} for target {request.target_number} of {request.pep_id}"


