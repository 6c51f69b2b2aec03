"""The mail log: one entry per message the process sends (by idempotency key), its status
and status history, audited under the PEP (or entity ``mail`` with no PEP). The outbox
that holds and sends the messages is :mod:`pepflow.store.outbox_repo`.
"""

from __future__ import annotations


import sqlalchemy as sa
from sqlalchemy.orm import Session

from pepflow.domain.enums import MailStatus
from pepflow.store import records as r
from pepflow.store.core_reads import fields_of
from pepflow.store.errors import UnknownMail, UnknownPep
from pepflow.store.models import PEP_EXISTS, MailLogRow, MailOutboxRow
from pepflow.store.unit_of_work import UnitOfWork
from pepflow.store.values import _email, _enum, _text

def mail_summary_record(log_row: MailLogRow, row: MailOutboxRow | None) -> r.MailSummary:
    return r.MailSummary(
        mail_id=log_row.id,
        idempotency_key=log_row.idempotency_key,
        pep_id=log_row.pep_id,
        kind=log_row.kind,
        recipient=log_row.recipient,
        status=log_row.status,
        status_history=tuple(log_row.status_history),
        message_id=row.message_id if row is not None else None,
        attempts=row.attempts if row is not None else 0,
        next_attempt_at=(
            row.next_attempt_at
            if row is not None and row.state == MailStatus.QUEUED.value
            else None
        ),
        last_error=row.last_error if row is not None else None,
        created_at=log_row.created_at,
        updated_at=log_row.updated_at,
    )


#: built once: a statement costs more to build than to run (issue 16)
_MAIL_BY_KEY = sa.select(MailLogRow).where(MailLogRow.idempotency_key == sa.bindparam("b_key"))
#: the same entry's fields, read through Core (every message queued asks first)
_ENTRY_BY_KEY = fields_of(MailLogRow).where(MailLogRow.idempotency_key == sa.bindparam("b_key"))


def already_logged(s: Session, key: str, pep_id: str | None) -> r.MailLogEntry | None:
    """The mail already logged under ``key`` (a second send of it sends nothing), else
    ``None`` once the PEP it is for is known to exist (:class:`UnknownPep` if not).

    Read through Core on the session's connection after a flush: what the ORM query's
    autoflush did, so the transaction's own pending entries still count."""
    conn = UnitOfWork.connection(s)
    existing = conn.execute(_ENTRY_BY_KEY, {"b_key": key}).mappings().first()
    if existing is not None:
        return r.MailLogEntry.model_validate(dict(existing))
    if pep_id is not None and conn.execute(PEP_EXISTS, {"pep_id": pep_id}).first() is None:
        raise UnknownPep(pep_id)
    return None


class MailLogRepository:
    """The mail log (``store.mail_repo``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def record_mail(
        self,
        idempotency_key: str,
        *,
        kind: str,
        recipient: str,
        actor: str,
        pep_id: str | None = None,
        status: MailStatus | str = MailStatus.QUEUED,
        detail: str | None = None,
    ) -> tuple[r.MailLogEntry, bool]:
        """Log a mail once per idempotency key. Returns (entry, created): a second call
        with the same key returns the first entry and ``False`` (send nothing again)."""
        key = _text(idempotency_key, "idempotency key")
        status = _enum(MailStatus, status, "mail status")
        address = _email(recipient, "mail recipient")
        with self.uow.transaction() as s:
            existing = already_logged(s, key, pep_id)
            if existing is not None:
                return existing, False
            now = self.uow.clock.now()
            row = MailLogRow(
                idempotency_key=key,
                pep_id=pep_id,
                kind=_text(kind, "mail kind"),
                recipient=address,
                status=status.value,
                status_history=[{"status": status.value, "at": now.isoformat(), "detail": detail}],
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            self.uow.audit(
                s,
                actor,
                "pep" if pep_id else "mail",
                pep_id or key,
                "record-mail",
                {
                    "mail": [
                        None,
                        {
                            "key": key,
                            "kind": row.kind,
                            "recipient": address,
                            "status": status.value,
                        },
                    ],
                },
            )
            return r.MailLogEntry.model_validate(row), True

    def set_mail_status(
        self,
        idempotency_key: str,
        status: MailStatus | str,
        *,
        actor: str,
        detail: str | None = None,
    ) -> r.MailLogEntry:
        status = _enum(MailStatus, status, "mail status")
        with self.uow.transaction() as s:
            row = s.scalars(_MAIL_BY_KEY, {"b_key": idempotency_key}).first()
            if row is None:
                raise UnknownMail(idempotency_key)
            now = self.uow.clock.now()
            before = row.status
            row.status = status.value
            row.status_history = [
                *row.status_history,
                {"status": status.value, "at": now.isoformat(), "detail": detail},
            ]
            row.updated_at = now
            s.flush()
            self.uow.audit(
                s,
                actor,
                "pep" if row.pep_id else "mail",
                row.pep_id or idempotency_key,
                "mail-status",
                {"key": [idempotency_key, idempotency_key], "status": [before, status.value]},
            )
            return r.MailLogEntry.model_validate(row)

    def mail_entry(self, idempotency_key: str) -> r.MailLogEntry | None:
        return self.uow.record(r.MailLogEntry, _ENTRY_BY_KEY, {"b_key": idempotency_key})

    def mail_log(self, pep_id: str | None = None) -> list[r.MailLogEntry]:
        with self.uow.read() as s:
            query = sa.select(MailLogRow).order_by(MailLogRow.id)
            if pep_id is not None:
                query = query.where(MailLogRow.pep_id == pep_id)
            return [r.MailLogEntry.model_validate(x) for x in s.scalars(query)]

    def mail_summaries(
        self, pep_id: str | None = None, *, status: MailStatus | str | None = None
    ) -> list[r.MailSummary]:
        """Every message (optionally of one PEP, or in one status), oldest first."""
        with self.uow.read() as s:
            query = (
                sa.select(MailLogRow, MailOutboxRow)
                .outerjoin(MailOutboxRow, MailOutboxRow.mail_log_id == MailLogRow.id)
                .order_by(MailLogRow.id)
            )
            if pep_id is not None:
                query = query.where(MailLogRow.pep_id == pep_id)
            if status is not None:
                query = query.where(
                    MailLogRow.status == _enum(MailStatus, status, "mail status").value
                )
            return [mail_summary_record(log_row, row) for log_row, row in s.execute(query)]

    def mail_summary(self, mail_id: int) -> r.MailSummary:
        with self.uow.read() as s:
            found = s.execute(
                sa.select(MailLogRow, MailOutboxRow)
                .outerjoin(MailOutboxRow, MailOutboxRow.mail_log_id == MailLogRow.id)
                .where(MailLogRow.id == mail_id)
            ).first()
            if found is None:
                raise UnknownMail(str(mail_id))
            return mail_summary_record(*found)
