"""Read-only queries for workload figures: what the Virtual School's forecast and the
simulated schools need, one query each rather than a record at a time.

They read the records store's tables; nothing here changes a record, so nothing is
audited (the forecast shows counts and dates, never a child's name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pepflow.domain.enums import DocumentKind, MailStatus, PepStatus, StaffRole
from pepflow.store.models import DocumentVersionRow, EscalationRow, MailLogRow, PepRow, SchoolReturnRow, StaffRoleRow

if TYPE_CHECKING:  # pragma: no cover
    from pepflow.store.repository import RecordsStore


@dataclass(frozen=True)
class AwaitingForm:
    """A PEP whose Word form went to the setting and was not taken in yet, with its
    latest return if one came (it may wait for review, or have been queried: the
    council asked the school again)."""

    pep_id: str
    child_id: str
    setting_id: str | None
    form_sent_at: datetime
    meeting_at: datetime | None
    last_return_status: str | None = None
    last_return_at: datetime | None = None
    last_decided_at: datetime | None = None


@dataclass(frozen=True)
class WorkloadFacts:
    """The instants the weekly figures are counted from."""

    forms_sent: list[datetime]
    meetings: list[datetime]
    mail_sent: list[datetime]
    escalations: list[tuple[datetime, datetime | None]]  # (raised, resolved)
    business_support_officers: int


def _last_return(column: sa.ColumnElement) -> sa.ScalarSelect:
    """``column`` of the PEP's latest return (a correlated subquery of the PEP row)."""
    return (sa.select(column).where(SchoolReturnRow.pep_id == PepRow.id)
            .order_by(SchoolReturnRow.id.desc()).limit(1).scalar_subquery())


#: the PEPs awaiting their form, with their latest return, built once and read through
#: Core (the simulated schools ask every day; issue 16)
_AWAITING_FORM = (
    sa.select(PepRow.id, PepRow.child_id, PepRow.setting_id, PepRow.form_sent_at, PepRow.meeting_at,
              _last_return(SchoolReturnRow.status), _last_return(SchoolReturnRow.received_at),
              _last_return(SchoolReturnRow.decided_at))
    .where(PepRow.status == PepStatus.FORM_SENT.value, PepRow.form_sent_at.is_not(None))
    .order_by(PepRow.form_sent_at, PepRow.id)
)


class WorkloadQueries:
    def __init__(self, store: RecordsStore) -> None:
        self._store = store

    def awaiting_form(self) -> list[AwaitingForm]:
        with self._store.uow.rows() as conn:
            rows = conn.execute(_AWAITING_FORM).all()
        return [AwaitingForm(*row) for row in rows]

    def peps_by_academic_year(self) -> dict[int, int]:
        with self._store.uow.read() as s:
            rows = s.execute(sa.select(PepRow.academic_year, sa.func.count()).group_by(PepRow.academic_year)).all()
        return {int(year): int(count) for year, count in rows}

    def facts(self) -> WorkloadFacts:
        with self._store.uow.read() as s:
            forms = s.scalars(sa.select(PepRow.form_sent_at).where(PepRow.form_sent_at.is_not(None))).all()
            meetings = s.scalars(sa.select(PepRow.meeting_at).where(
                PepRow.meeting_at.is_not(None), PepRow.status != PepStatus.CANCELLED.value)).all()
            mail = s.scalars(sa.select(MailLogRow.updated_at).where(MailLogRow.status == MailStatus.SENT.value)).all()
            escalations = s.execute(sa.select(EscalationRow.raised_at, EscalationRow.resolved_at)).all()
            officers = int(s.scalar(sa.select(sa.func.count()).select_from(StaffRoleRow).where(
                StaffRoleRow.role == StaffRole.BUSINESS_SUPPORT.value)) or 0)
        return WorkloadFacts(list(forms), list(meetings), list(mail), [tuple(e) for e in escalations], officers)

    def counts(self) -> dict[str, int]:
        """Totals a run's figures are checked against."""
        with self._store.uow.read() as s:
            def count(query) -> int:
                return int(s.scalar(query) or 0)

            return {
                "documents": count(sa.select(sa.func.count()).select_from(DocumentVersionRow)),
                "mail_sent": count(sa.select(sa.func.count()).select_from(MailLogRow).where(MailLogRow.status == MailStatus.SENT.value)),
                "mail_not_sent": count(sa.select(sa.func.count()).select_from(MailLogRow).where(
                    MailLogRow.status.not_in((MailStatus.SENT.value, MailStatus.WITHDRAWN.value)))),
                "final_peps": count(sa.select(sa.func.count()).select_from(PepRow).where(PepRow.status == PepStatus.FINAL.value)),
                "peps": count(sa.select(sa.func.count()).select_from(PepRow)),
                "escalations": count(sa.select(sa.func.count()).select_from(EscalationRow)),
                "final_pdf_documents": count(sa.select(sa.func.count()).select_from(DocumentVersionRow).where(
                    DocumentVersionRow.kind == DocumentKind.FINAL_PDF.value)),
                "returned_documents": count(sa.select(sa.func.count()).select_from(DocumentVersionRow).where(
                    DocumentVersionRow.kind == DocumentKind.RETURNED.value)),
                "final_documents": count(sa.select(sa.func.count()).select_from(DocumentVersionRow).where(
                    DocumentVersionRow.kind == DocumentKind.FINAL.value)),
                "form_documents": count(sa.select(sa.func.count()).select_from(DocumentVersionRow).where(
                    DocumentVersionRow.kind == DocumentKind.FORM.value)),
            }

    def final_peps_by_child(self) -> dict[str, list[tuple[int, str]]]:
        """``child id -> [(academic year, term)]`` of their final PEPs."""
        with self._store.uow.read() as s:
            rows = s.execute(sa.select(PepRow.child_id, PepRow.academic_year, PepRow.term)
                             .where(PepRow.status == PepStatus.FINAL.value)).all()
        result: dict[str, list[tuple[int, str]]] = {}
        for child_id, year, term in rows:
            result.setdefault(child_id, []).append((year, term))
        return result

    def mail_by_child(self) -> dict[str, list[tuple[str, datetime, datetime]]]:
        """``child id -> [(status, queued at, last change)]`` of the mail about their PEPs."""
        with self._store.uow.read() as s:
            rows = s.execute(
                sa.select(PepRow.child_id, MailLogRow.status, MailLogRow.created_at, MailLogRow.updated_at)
                .join(PepRow, PepRow.id == MailLogRow.pep_id)
            ).all()
        result: dict[str, list[tuple[str, datetime, datetime]]] = {}
        for child_id, status, created, updated in rows:
            result.setdefault(child_id, []).append((status, created, updated))
        return result

    def finalised_before_review(self) -> list[tuple[str, int, datetime, datetime | None]]:
        """``(pep id, return id, finalised at, decided at)`` for every final PEP made
        while a form returned for it still waited for review (decided later, or not yet):
        none should be (docs/process-rules.md, rule 14a)."""
        waited = sa.or_(SchoolReturnRow.decided_at.is_(None), SchoolReturnRow.decided_at > PepRow.finalised_at)
        with self._store.uow.read() as s:
            rows = s.execute(
                sa.select(PepRow.id, SchoolReturnRow.id, PepRow.finalised_at, SchoolReturnRow.decided_at)
                .join(SchoolReturnRow, SchoolReturnRow.pep_id == PepRow.id)
                .where(PepRow.status == PepStatus.FINAL.value, PepRow.finalised_at.is_not(None),
                       SchoolReturnRow.received_at < PepRow.finalised_at, waited)
                .order_by(PepRow.id, SchoolReturnRow.id)
            ).all()
        return [(pep_id, return_id, finalised, decided) for pep_id, return_id, finalised, decided in rows]
