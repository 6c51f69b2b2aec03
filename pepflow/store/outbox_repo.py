"""The mail outbox: messages queued with their attachments, claimed, sent and retried.

A step that sends mail calls :meth:`enqueue_mail` (mail log entry, full message and
attachments, audit: one transaction) and returns. The sender claims due messages
(:meth:`claim_mail`), sends them and records the outcome (:meth:`mark_mail_sent`,
:meth:`schedule_mail_retry`, :meth:`mark_mail_failed`). Every outcome is appended to the
mail log entry's ``status_history`` and audited under the PEP.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, defer, selectinload, undefer

from pepflow.domain.enums import MailStatus
from pepflow.store import records as r
from pepflow.store.errors import InvalidRecord, RecordsError, UnknownMail, UnknownRecord
from pepflow.store.mail_due import any_mail_due
from pepflow.store.mail_repo import MailLogRepository, already_logged
from pepflow.store.models import (
    DocumentVersionRow,
    MailLogRow,
    MailOutboxAttachmentRow,
    MailOutboxRow,
)
from pepflow.store.unit_of_work import UnitOfWork
from pepflow.store.values import _aware, _email, _jsonable, _text


#: a message's outbox row with its log row (``b_mail``): built once, as it is read for every send
_OUTBOX_ROWS = (
    sa.select(MailOutboxRow, MailLogRow)
    .join(MailLogRow, MailLogRow.id == MailOutboxRow.mail_log_id)
    .where(MailOutboxRow.mail_log_id == sa.bindparam("b_mail"))
)

class OutboxRepository:
    """The mail outbox (``store.outbox_repo``), over the mail log ``log``."""

    def __init__(self, uow: UnitOfWork, log: MailLogRepository) -> None:
        self.uow = uow
        self.log = log

    def enqueue_mail(
        self,
        idempotency_key: str,
        *,
        kind: str,
        message_id: str,
        sender: str,
        recipients: Sequence[str],
        subject: str,
        text_body: str,
        html_body: str | None = None,
        sender_name: str | None = None,
        reply_to: str | None = None,
        date: datetime | None = None,
        attachments: Sequence[dict[str, Any]] = (),
        pep_id: str | None = None,
        recipient_party_id: str | None = None,
        recipient_role: str | None = None,
        process_instance_key: int | None = None,
        element_id: str | None = None,
        raw: bytes | None = None,
        not_before: datetime | None = None,
        actor: str,
    ) -> tuple[r.MailLogEntry, bool]:
        """Queue one message once per idempotency key. Returns ``(entry, created)``.
        ``not_before`` holds it back until then (a password sent apart from its file).

        A second call with the same key (a retried or re-delivered job) changes nothing
        and returns the first entry with ``created=False``, whatever its status. Each
        attachment is ``{"filename", "content_type", "content": bytes}`` or
        ``{"filename", "content_type", "document_version_id": id}`` (the stored
        document version is read when the message is sent).
        """
        key = _text(idempotency_key, "idempotency key")
        if len(key) > 200:
            raise InvalidRecord(f"idempotency key {key[:60]!r}... is longer than 200 characters")
        addresses = [_email(a, "mail recipient") for a in recipients]
        if not addresses:
            raise InvalidRecord("a message needs at least one recipient")
        sender_address = _email(sender, "mail sender")
        reply_address = _email(reply_to, "mail reply-to", required=False)
        when = _aware(date, "mail date") or self.uow.clock.now()
        try:
            return self._enqueue_mail(
                key, kind=_text(kind, "mail kind"), message_id=_text(message_id, "Message-ID"),
                sender=sender_address, recipients=addresses, subject=_text(subject, "subject"),
                text_body=text_body, html_body=html_body, sender_name=sender_name,
                reply_to=reply_address, date=when, attachments=attachments, pep_id=pep_id,
                recipient_party_id=recipient_party_id, recipient_role=recipient_role,
                process_instance_key=process_instance_key, element_id=element_id, raw=raw, actor=actor,
                not_before=_aware(not_before, "not before"),
            )
        except RecordsError:
            # Two workers queued the same key at once: the other one won.
            if not self.uow.in_transaction:
                existing = self.log.mail_entry(key)
                if existing is not None:
                    return existing, False
            raise

    def _enqueue_mail(self, key: str, *, kind: str, recipients: list[str], attachments, pep_id,
                      actor: str, date: datetime, not_before: datetime | None = None,
                      **message: Any) -> tuple[r.MailLogEntry, bool]:
        with self.uow.transaction() as s:
            existing = already_logged(s, key, pep_id)
            if existing is not None:
                return existing, False
            now = self.uow.clock.now()
            log_row = MailLogRow(
                idempotency_key=key,
                pep_id=pep_id,
                kind=kind,
                recipient=recipients[0],
                status=MailStatus.QUEUED.value,
                status_history=[
                    {
                        "status": MailStatus.QUEUED.value,
                        "event": "queued",
                        "at": now.isoformat(),
                        "detail": f"queued as {message['message_id']}",
                    }
                ],
                created_at=now,
                updated_at=now,
            )
            s.add(log_row)
            s.flush()
            outbox = MailOutboxRow(
                mail_log_id=log_row.id,
                recipients=recipients,
                date=date,
                state=MailStatus.QUEUED.value,
                attempts=0,
                next_attempt_at=max(now, not_before) if not_before else now,
                **message,
            )
            s.add(outbox)
            s.flush()
            described = []
            for position, attachment in enumerate(attachments, start=1):
                content = attachment.get("content")
                document_id = attachment.get("document_version_id")
                if (content is None) == (document_id is None):
                    raise InvalidRecord("an attachment needs either content or document_version_id")
                if document_id is not None:
                    document = s.get(DocumentVersionRow, document_id)
                    if document is None:
                        raise UnknownRecord(str(document_id), "no such document version")
                    size, digest = document.size, document.sha256
                else:
                    size, digest = len(content), hashlib.sha256(content).hexdigest()
                s.add(
                    MailOutboxAttachmentRow(
                        outbox_id=outbox.id,
                        position=position,
                        filename=_text(attachment.get("filename"), "attachment filename"),
                        content_type=attachment.get("content_type") or "application/octet-stream",
                        size=size,
                        sha256=digest,
                        content=content,
                        document_version_id=document_id,
                    )
                )
                described.append({"filename": attachment.get("filename"), "sha256": digest})
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
                            "kind": kind,
                            "recipient": recipients[0],
                            "status": MailStatus.QUEUED.value,
                            "message_id": message["message_id"],
                            "attachments": described,
                        },
                    ],
                },
            )
            return r.MailLogEntry.model_validate(log_row), True

    def claim_mail(self, owner: str, *, limit: int = 50, lease: timedelta = timedelta(minutes=5)) -> list[int]:
        """Claim up to ``limit`` queued messages that are due; return their mail ids.

        A claim is a lease: a sender that dies holding it leaves the message to be
        claimed again once ``lease`` has passed.
        """
        now = self.uow.clock.now()
        if not any_mail_due(self.uow.engine, now):  # the usual answer, without a write transaction
            return []
        until = now + lease
        due = sa.and_(
            MailOutboxRow.state == MailStatus.QUEUED.value,
            MailOutboxRow.next_attempt_at <= now,
            sa.or_(MailOutboxRow.claimed_by.is_(None), MailOutboxRow.lease_until < now),
        )
        with self.uow.transaction() as s:
            candidates = list(
                s.scalars(
                    sa.select(MailOutboxRow.id)
                    .where(due)
                    .order_by(MailOutboxRow.next_attempt_at, MailOutboxRow.id)
                    .limit(limit)
                )
            )
            if not candidates:
                return []
            s.execute(
                sa.update(MailOutboxRow)
                .where(MailOutboxRow.id.in_(candidates), due)
                .values(claimed_by=owner, lease_until=until)
                .execution_options(synchronize_session=False)
            )
            return list(
                s.scalars(
                    sa.select(MailOutboxRow.mail_log_id)
                    .where(
                        MailOutboxRow.id.in_(candidates),
                        MailOutboxRow.claimed_by == owner,
                        MailOutboxRow.lease_until == until,
                    )
                    .order_by(MailOutboxRow.next_attempt_at, MailOutboxRow.id)
                )
            )

    def release_mail(self, mail_ids: Iterable[int], owner: str) -> None:
        """Give back claims not worked (a sender stopping): due again at once."""
        ids = list(mail_ids)
        if not ids:
            return
        with self.uow.transaction() as s:
            s.execute(
                sa.update(MailOutboxRow)
                .where(MailOutboxRow.mail_log_id.in_(ids), MailOutboxRow.claimed_by == owner)
                .values(claimed_by=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )

    def release_orphaned_mail(self, prefix: str, *, except_owner: str) -> int:
        """Claims held by senders named ``prefix...`` other than ``except_owner``: in the
        embedded mode (one sender per database) they belong to a run that died."""
        with self.uow.transaction() as s:
            result = s.execute(
                sa.update(MailOutboxRow)
                .where(
                    MailOutboxRow.claimed_by.like(f"{prefix}%"),
                    MailOutboxRow.claimed_by != except_owner,
                    MailOutboxRow.state == MailStatus.QUEUED.value,
                )
                .values(claimed_by=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount or 0

    def outbox_messages(
        self, mail_ids: Sequence[int], *, with_content: bool = True, prebuilt_only: bool = False
    ) -> list[r.OutboxMessage]:
        """The queued messages ``mail_ids`` in that order, attachments' bytes loaded.
        With ``prebuilt_only``, a message built when queued comes without its parts'
        bytes (the sender transmits the built bytes)."""
        ids = list(mail_ids)
        if not ids:
            return []
        with self.uow.read() as s:
            rows = s.execute(
                sa.select(MailOutboxRow, MailLogRow)
                .join(MailLogRow, MailLogRow.id == MailOutboxRow.mail_log_id)
                .where(MailOutboxRow.mail_log_id.in_(ids))
                .options(selectinload(MailOutboxRow.attachments), undefer(MailOutboxRow.raw) if with_content else defer(MailOutboxRow.raw))
            ).all()
            documents: dict[int, bytes] = {}
            wanted = {
                a.document_version_id
                for row, _ in rows
                for a in row.attachments
                if a.document_version_id is not None and not (prebuilt_only and row.raw is not None)
            }
            if with_content and wanted:
                for document in s.scalars(
                    sa.select(DocumentVersionRow).where(DocumentVersionRow.id.in_(wanted))
                ):
                    documents[document.id] = (
                        document.content
                        if document.content is not None
                        else Path(document.path).read_bytes()
                    )
            by_id = {}
            for row, log_row in rows:
                attachments = tuple(
                    r.OutboxAttachment(
                        position=a.position,
                        filename=a.filename,
                        content_type=a.content_type,
                        size=a.size,
                        sha256=a.sha256,
                        document_version_id=a.document_version_id,
                        data=(
                            (a.content if a.content is not None else documents[a.document_version_id])
                            # the built message carries its attachments already
                            if with_content and not (prebuilt_only and row.raw is not None)
                            else None
                        ),
                    )
                    for a in row.attachments
                )
                by_id[log_row.id] = r.OutboxMessage(
                    mail_id=log_row.id,
                    idempotency_key=log_row.idempotency_key,
                    pep_id=log_row.pep_id,
                    kind=log_row.kind,
                    message_id=row.message_id,
                    sender=row.sender,
                    sender_name=row.sender_name,
                    reply_to=row.reply_to,
                    recipients=tuple(row.recipients),
                    recipient_party_id=row.recipient_party_id,
                    recipient_role=row.recipient_role,
                    subject=row.subject,
                    text_body=row.text_body,
                    html_body=row.html_body,
                    date=row.date,
                    state=row.state,
                    attempts=row.attempts,
                    next_attempt_at=row.next_attempt_at,
                    last_error=row.last_error,
                    attachments=attachments,
                    raw=row.raw if with_content else None,
                )
            return [by_id[i] for i in ids if i in by_id]

    def outbox_message(self, mail_id: int, *, with_content: bool = False) -> r.OutboxMessage:
        found = self.outbox_messages([mail_id], with_content=with_content)
        if not found:
            raise UnknownMail(str(mail_id))
        return found[0]

    def _outbox_rows(self, s: Session, mail_id: int) -> tuple[MailOutboxRow, MailLogRow]:
        found = s.execute(_OUTBOX_ROWS, {"b_mail": mail_id}).first()
        if found is None:
            raise UnknownMail(str(mail_id))
        return found[0], found[1]

    def _mail_event(
        self,
        s: Session,
        log_row: MailLogRow,
        status: MailStatus,
        event: str,
        *,
        actor: str,
        detail: str | None,
        audit_action: str,
        **extra: Any,
    ) -> None:
        now = self.uow.clock.now()
        before = log_row.status
        entry = {"status": status.value, "event": event, "at": now.isoformat(), "detail": detail}
        entry.update({k: _jsonable(v) for k, v in extra.items() if v is not None})
        log_row.status = status.value
        log_row.status_history = [*log_row.status_history, entry]
        log_row.updated_at = now
        s.flush()
        diff: dict[str, Any] = {"key": [log_row.idempotency_key, log_row.idempotency_key]}
        if before != status.value:
            diff["status"] = [before, status.value]
        diff["event"] = [None, {k: v for k, v in entry.items() if k != "at"}]
        self.uow.audit(
            s,
            actor,
            "pep" if log_row.pep_id else "mail",
            log_row.pep_id or log_row.idempotency_key,
            audit_action,
            diff,
        )

    def mark_mail_sent(
        self,
        outcomes: Sequence[tuple[int, str]] | int,
        reply: str | None = None,
        *,
        actor: str,
    ) -> None:
        """Record that the server took each message: ``[(mail_id, server reply), ...]``
        (or one ``mail_id, reply``), in one transaction."""
        if isinstance(outcomes, int):
            outcomes = [(outcomes, reply or "")]
        now = self.uow.clock.now()
        with self.uow.transaction() as s:
            for mail_id, server_reply in outcomes:
                row, log_row = self._outbox_rows(s, mail_id)
                row.attempts += 1
                row.state = MailStatus.SENT.value
                row.sent_at = now
                row.claimed_by = None
                row.lease_until = None
                row.last_error = None
                self._mail_event(
                    s, log_row, MailStatus.SENT, "sent", actor=actor, detail=server_reply,
                    audit_action="mail-sent", attempt=row.attempts, message_id=row.message_id,
                )

    def withdraw_queued_mail(self, pep_ids: Iterable[str], *, reason: str, actor: str) -> int:
        """Withdraw the messages about these PEPs that are still queued (not being sent
        right now): they will never go. Each is marked and audited with the reason."""
        ids = list(pep_ids)
        if not ids:
            return 0
        now = self.uow.clock.now()
        with self.uow.transaction() as s:
            rows = s.execute(
                sa.select(MailOutboxRow, MailLogRow)
                .join(MailLogRow, MailLogRow.id == MailOutboxRow.mail_log_id)
                .where(
                    MailLogRow.pep_id.in_(ids),
                    MailOutboxRow.state.in_([MailStatus.QUEUED.value, MailStatus.FAILED.value]),
                    sa.or_(MailOutboxRow.claimed_by.is_(None), MailOutboxRow.lease_until < now),
                )
            ).all()
            for row, log_row in rows:
                row.state = MailStatus.WITHDRAWN.value
                row.claimed_by = None
                row.lease_until = None
                self._mail_event(
                    s, log_row, MailStatus.WITHDRAWN, "withdrawn", actor=actor, detail=reason,
                    audit_action="mail-withdrawn",
                )
            return len(rows)

    def schedule_mail_retry(
        self,
        mail_id: int,
        reason: str,
        next_attempt_at: datetime,
        *,
        actor: str,
        event: str = "retry-scheduled",
        code: int | None = None,
    ) -> None:
        """A transient failure (or a server refused for insecurity): stays queued."""
        with self.uow.transaction() as s:
            row, log_row = self._outbox_rows(s, mail_id)
            row.attempts += 1
            row.next_attempt_at = next_attempt_at
            row.claimed_by = None
            row.lease_until = None
            row.last_error = reason
            self._mail_event(
                s, log_row, MailStatus.QUEUED, event, actor=actor, detail=reason,
                audit_action="mail-retry-scheduled", attempt=row.attempts, code=code,
                next_attempt_at=next_attempt_at,
            )

    def mark_mail_failed(
        self, mail_id: int, reason: str, *, actor: str, code: int | None = None
    ) -> None:
        """A permanent failure: nothing more is tried until someone retries it."""
        with self.uow.transaction() as s:
            row, log_row = self._outbox_rows(s, mail_id)
            row.attempts += 1
            row.state = MailStatus.FAILED.value
            row.claimed_by = None
            row.lease_until = None
            row.last_error = reason
            self._mail_event(
                s, log_row, MailStatus.FAILED, "failed", actor=actor, detail=reason,
                audit_action="mail-failed", attempt=row.attempts, code=code,
            )

    def requeue_mail(
        self, mail_id: int, *, actor: str, recipients: Sequence[str] | None = None
    ) -> r.MailSummary:
        """Queue a failed (or waiting) message again, due now; ``recipients`` replaces the
        addresses when the records now give different ones. A sent message is refused."""
        addresses = [_email(a, "mail recipient") for a in recipients] if recipients else None
        with self.uow.transaction() as s:
            row, log_row = self._outbox_rows(s, mail_id)
            if row.state == MailStatus.SENT.value:
                raise InvalidRecord(
                    f"mail {mail_id} was already sent ({log_row.idempotency_key}); "
                    "it is not sent again"
                )
            changed = None
            if addresses and addresses != list(row.recipients):
                changed = [list(row.recipients), addresses]
                row.recipients = addresses
                row.raw = None  # its To: header named the old address: rebuilt when sent
                log_row.recipient = addresses[0]
            row.state = MailStatus.QUEUED.value
            row.attempts = 0
            row.next_attempt_at = self.uow.clock.now()
            row.claimed_by = None
            row.lease_until = None
            self._mail_event(
                s, log_row, MailStatus.QUEUED, "retry-requested", actor=actor,
                detail=f"queued again by {actor}", audit_action="mail-retry-requested",
                recipients=changed,
            )
        return self.log.mail_summary(mail_id)

    def next_mail_due(self) -> datetime | None:
        """When the earliest queued message is next due (a claimed one: when its lease ends)."""
        due = sa.case(
            (
                sa.and_(
                    MailOutboxRow.lease_until.is_not(None),
                    MailOutboxRow.lease_until > MailOutboxRow.next_attempt_at,
                ),
                MailOutboxRow.lease_until,
            ),
            else_=MailOutboxRow.next_attempt_at,
        )
        with self.uow.read() as s:
            value = s.scalar(
                sa.select(sa.func.min(due)).where(MailOutboxRow.state == MailStatus.QUEUED.value)
            )
        if value is None:
            return None
        if isinstance(value, str):  # SQLite hands back an aggregate of datetimes as text
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value
