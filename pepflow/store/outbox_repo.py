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
from sqlalchemy.orm import Session

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


# Every send, retry and queueing writes through Core statements built once (issue 16):
# the ORM's load, identity map and flush cost more than the statements for rows that are
# read and written back at once. A loaded ORM copy of a row written here is expired
# (``UnitOfWork.forget``), so a later ORM read in the same transaction sees the change.
_log, _outbox = MailLogRow.__table__, MailOutboxRow.__table__
_attachments, _documents = MailOutboxAttachmentRow.__table__, DocumentVersionRow.__table__

#: what an outcome reads of a message: its outbox row's state and its log row
_EVENT_COLUMNS = (
    _outbox.c.id.label("outbox_id"), _outbox.c.state, _outbox.c.attempts, _outbox.c.message_id,
    _outbox.c.recipients, _log.c.id, _log.c.idempotency_key, _log.c.pep_id, _log.c.status,
    _log.c.status_history,
)
#: a message's outbox and log rows (``b_mail``)
_OUTBOX_ROWS = (
    sa.select(*_EVENT_COLUMNS).join_from(_outbox, _log, _log.c.id == _outbox.c.mail_log_id)
    .where(_outbox.c.mail_log_id == sa.bindparam("b_mail"))
)
#: the messages about PEPs ``b_peps`` that may be withdrawn at ``b_now``
_WITHDRAWABLE = (
    sa.select(*_EVENT_COLUMNS).join_from(_outbox, _log, _log.c.id == _outbox.c.mail_log_id)
    .where(
        _log.c.pep_id.in_(sa.bindparam("b_peps", expanding=True)),
        _outbox.c.state.in_([MailStatus.QUEUED.value, MailStatus.FAILED.value]),
        sa.or_(_outbox.c.claimed_by.is_(None), _outbox.c.lease_until < sa.bindparam("b_now")),
    )
)
#: the columns to set are the parameters; ``b_id`` is the row
_UPDATE_OUTBOX = _outbox.update().where(_outbox.c.id == sa.bindparam("b_id"))
_UPDATE_LOG = _log.update().where(_log.c.id == sa.bindparam("b_id"))
_INSERT_LOG, _INSERT_OUTBOX, _INSERT_ATTACHMENT = _log.insert(), _outbox.insert(), _attachments.insert()
_DOCUMENT_DIGEST = sa.select(_documents.c.size, _documents.c.sha256).where(_documents.c.id == sa.bindparam("b_id"))

#: a queued message the sender may claim at ``b_now``
_DUE = sa.and_(
    _outbox.c.state == MailStatus.QUEUED.value,
    _outbox.c.next_attempt_at <= sa.bindparam("b_now"),
    sa.or_(_outbox.c.claimed_by.is_(None), _outbox.c.lease_until < sa.bindparam("b_now")),
)
_CLAIMABLE = (
    sa.select(_outbox.c.id).where(_DUE)
    .order_by(_outbox.c.next_attempt_at, _outbox.c.id).limit(sa.bindparam("b_limit"))
)
#: claims the due ones of ``b_ids`` (``claimed_by``, ``lease_until`` are the parameters)
#: and says which it took: an ``UPDATE ... RETURNING`` (SQLite 3.35+, PostgreSQL), not a
#: third statement reading them back
_CLAIM = (
    _outbox.update().where(_outbox.c.id.in_(sa.bindparam("b_ids", expanding=True)), _DUE)
    .returning(_outbox.c.mail_log_id, _outbox.c.next_attempt_at, _outbox.c.id)
)


def _message_columns(with_raw: bool) -> tuple:
    columns = [c for c in _outbox.c if c.key != "raw" or with_raw]
    return (*columns, _log.c.idempotency_key, _log.c.pep_id, _log.c.kind)


#: the messages ``b_mails`` with their log rows, with or without the built bytes
_MESSAGES = {
    with_raw: sa.select(*_message_columns(with_raw))
    .join_from(_outbox, _log, _log.c.id == _outbox.c.mail_log_id)
    .where(_outbox.c.mail_log_id.in_(sa.bindparam("b_mails", expanding=True)))
    for with_raw in (False, True)
}
#: the attachments of the outbox rows ``b_ids``, in order
_ATTACHMENTS = (
    sa.select(_attachments).where(_attachments.c.outbox_id.in_(sa.bindparam("b_ids", expanding=True)))
    .order_by(_attachments.c.outbox_id, _attachments.c.position)
)
#: the stored bytes (or file) of the document versions ``b_ids``
_DOCUMENT_BYTES = (
    sa.select(_documents.c.id, _documents.c.content, _documents.c.path)
    .where(_documents.c.id.in_(sa.bindparam("b_ids", expanding=True)))
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
            log = {
                "idempotency_key": key,
                "pep_id": pep_id,
                "kind": kind,
                "recipient": recipients[0],
                "status": MailStatus.QUEUED.value,
                "status_history": [
                    {
                        "status": MailStatus.QUEUED.value,
                        "event": "queued",
                        "at": now.isoformat(),
                        "detail": f"queued as {message['message_id']}",
                    }
                ],
                "created_at": now,
                "updated_at": now,
            }
            conn = self.uow.connection(s)
            log["id"] = conn.execute(_INSERT_LOG, log).inserted_primary_key[0]
            outbox_id = conn.execute(
                _INSERT_OUTBOX,
                {
                    "mail_log_id": log["id"],
                    "recipients": recipients,
                    "date": date,
                    "state": MailStatus.QUEUED.value,
                    "attempts": 0,
                    "next_attempt_at": max(now, not_before) if not_before else now,
                    **message,
                },
            ).inserted_primary_key[0]
            described, rows = [], []
            for position, attachment in enumerate(attachments, start=1):
                content = attachment.get("content")
                document_id = attachment.get("document_version_id")
                if (content is None) == (document_id is None):
                    raise InvalidRecord("an attachment needs either content or document_version_id")
                if document_id is not None:
                    document = conn.execute(_DOCUMENT_DIGEST, {"b_id": document_id}).first()
                    if document is None:
                        raise UnknownRecord(str(document_id), "no such document version")
                    size, digest = document.size, document.sha256
                else:
                    size, digest = len(content), hashlib.sha256(content).hexdigest()
                rows.append(
                    {
                        "outbox_id": outbox_id,
                        "position": position,
                        "filename": _text(attachment.get("filename"), "attachment filename"),
                        "content_type": attachment.get("content_type") or "application/octet-stream",
                        "size": size,
                        "sha256": digest,
                        "content": content,
                        "document_version_id": document_id,
                    }
                )
                described.append({"filename": attachment.get("filename"), "sha256": digest})
            if rows:
                conn.execute(_INSERT_ATTACHMENT, rows)
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
            return r.MailLogEntry.model_validate(log), True

    def claim_mail(self, owner: str, *, limit: int = 50, lease: timedelta = timedelta(minutes=5)) -> list[int]:
        """Claim up to ``limit`` queued messages that are due; return their mail ids.

        A claim is a lease: a sender that dies holding it leaves the message to be
        claimed again once ``lease`` has passed.
        """
        now = self.uow.clock.now()
        if not any_mail_due(self.uow, now):  # the usual answer, without a write transaction
            return []
        with self.uow.transaction() as s:
            conn = self.uow.connection(s)
            candidates = conn.execute(_CLAIMABLE, {"b_now": now, "b_limit": limit}).scalars().all()
            if not candidates:
                return []
            claimed = conn.execute(
                _CLAIM,
                {"b_ids": candidates, "b_now": now, "claimed_by": owner, "lease_until": now + lease},
            ).all()
            self.uow.forget(s, MailOutboxRow, *(row.id for row in claimed))
            # RETURNING comes in no promised order: the claim's order, as the query had it
            return [row.mail_log_id for row in sorted(claimed, key=lambda row: (row.next_attempt_at, row.id))]

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
        # Core, three statements built once: the ORM's selectinload and a lazy load of
        # each document's deferred bytes cost more than the rows (a read for every send)
        with self.uow.rows() as conn:
            rows = conn.execute(_MESSAGES[with_content], {"b_mails": ids}).all()
            parts: dict[int, list] = {row.id: [] for row in rows}
            if parts:
                for a in conn.execute(_ATTACHMENTS, {"b_ids": list(parts)}):
                    parts[a.outbox_id].append(a)
            # the built message carries its attachments already
            bare = {row.id for row in rows if prebuilt_only and row.raw is not None} if with_content else set(parts)
            wanted = {
                a.document_version_id
                for outbox_id, found in parts.items()
                if outbox_id not in bare
                for a in found
                if a.document_version_id is not None
            }
            documents: dict[int, bytes] = {}
            if wanted:
                for document in conn.execute(_DOCUMENT_BYTES, {"b_ids": list(wanted)}):
                    documents[document.id] = (
                        document.content
                        if document.content is not None
                        else Path(document.path).read_bytes()
                    )
        by_id = {}
        for row in rows:
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
                        if row.id not in bare
                        else None
                    ),
                )
                for a in parts[row.id]
            )
            by_id[row.mail_log_id] = r.OutboxMessage(
                mail_id=row.mail_log_id,
                idempotency_key=row.idempotency_key,
                pep_id=row.pep_id,
                kind=row.kind,
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

    @staticmethod
    def _outbox_rows(conn: sa.Connection, mail_id: int) -> Any:
        """A message's outbox and log rows (:data:`_EVENT_COLUMNS`) by mail id."""
        found = conn.execute(_OUTBOX_ROWS, {"b_mail": mail_id}).first()
        if found is None:
            raise UnknownMail(str(mail_id))
        return found

    def _mail_event(
        self,
        s: Session,
        conn: sa.Connection,
        mail: Any,
        outbox: dict[str, Any],
        status: MailStatus,
        event: str,
        *,
        actor: str,
        detail: str | None,
        audit_action: str,
        recipient: str | None = None,
        **extra: Any,
    ) -> None:
        """Write ``outbox`` (the columns to set) to the message's outbox row, append the
        event to its log row's history (with ``recipient`` when it changes) and audit it."""
        conn.execute(_UPDATE_OUTBOX, {"b_id": mail.outbox_id, **outbox})
        now = self.uow.clock.now()
        before = mail.status
        entry = {"status": status.value, "event": event, "at": now.isoformat(), "detail": detail}
        entry.update({k: _jsonable(v) for k, v in extra.items() if v is not None})
        log = {"status": status.value, "status_history": [*mail.status_history, entry], "updated_at": now}
        if recipient is not None:
            log["recipient"] = recipient
        conn.execute(_UPDATE_LOG, {"b_id": mail.id, **log})
        self.uow.forget(s, MailOutboxRow, mail.outbox_id)
        self.uow.forget(s, MailLogRow, mail.id)
        diff: dict[str, Any] = {"key": [mail.idempotency_key, mail.idempotency_key]}
        if before != status.value:
            diff["status"] = [before, status.value]
        diff["event"] = [None, {k: v for k, v in entry.items() if k != "at"}]
        self.uow.audit(
            s,
            actor,
            "pep" if mail.pep_id else "mail",
            mail.pep_id or mail.idempotency_key,
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
            conn = self.uow.connection(s)
            for mail_id, server_reply in outcomes:
                mail = self._outbox_rows(conn, mail_id)
                attempts = mail.attempts + 1
                self._mail_event(
                    s, conn, mail,
                    {"attempts": attempts, "state": MailStatus.SENT.value, "sent_at": now,
                     "claimed_by": None, "lease_until": None, "last_error": None},
                    MailStatus.SENT, "sent", actor=actor, detail=server_reply,
                    audit_action="mail-sent", attempt=attempts, message_id=mail.message_id,
                )

    def withdraw_queued_mail(self, pep_ids: Iterable[str], *, reason: str, actor: str) -> int:
        """Withdraw the messages about these PEPs that are still queued (not being sent
        right now): they will never go. Each is marked and audited with the reason."""
        ids = list(pep_ids)
        if not ids:
            return 0
        now = self.uow.clock.now()
        with self.uow.transaction() as s:
            conn = self.uow.connection(s)
            rows = conn.execute(_WITHDRAWABLE, {"b_peps": ids, "b_now": now}).all()
            for mail in rows:
                self._mail_event(
                    s, conn, mail,
                    {"state": MailStatus.WITHDRAWN.value, "claimed_by": None, "lease_until": None},
                    MailStatus.WITHDRAWN, "withdrawn", actor=actor, detail=reason,
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
            conn = self.uow.connection(s)
            mail = self._outbox_rows(conn, mail_id)
            attempts = mail.attempts + 1
            self._mail_event(
                s, conn, mail,
                {"attempts": attempts, "next_attempt_at": next_attempt_at, "claimed_by": None,
                 "lease_until": None, "last_error": reason},
                MailStatus.QUEUED, event, actor=actor, detail=reason,
                audit_action="mail-retry-scheduled", attempt=attempts, code=code,
                next_attempt_at=next_attempt_at,
            )

    def mark_mail_failed(
        self, mail_id: int, reason: str, *, actor: str, code: int | None = None
    ) -> None:
        """A permanent failure: nothing more is tried until someone retries it."""
        with self.uow.transaction() as s:
            conn = self.uow.connection(s)
            mail = self._outbox_rows(conn, mail_id)
            attempts = mail.attempts + 1
            self._mail_event(
                s, conn, mail,
                {"attempts": attempts, "state": MailStatus.FAILED.value, "claimed_by": None,
                 "lease_until": None, "last_error": reason},
                MailStatus.FAILED, "failed", actor=actor, detail=reason,
                audit_action="mail-failed", attempt=attempts, code=code,
            )

    def requeue_mail(
        self, mail_id: int, *, actor: str, recipients: Sequence[str] | None = None
    ) -> r.MailSummary:
        """Queue a failed (or waiting) message again, due now; ``recipients`` replaces the
        addresses when the records now give different ones. A sent message is refused."""
        addresses = [_email(a, "mail recipient") for a in recipients] if recipients else None
        with self.uow.transaction() as s:
            conn = self.uow.connection(s)
            mail = self._outbox_rows(conn, mail_id)
            if mail.state == MailStatus.SENT.value:
                raise InvalidRecord(
                    f"mail {mail_id} was already sent ({mail.idempotency_key}); "
                    "it is not sent again"
                )
            changed = None
            outbox: dict[str, Any] = {}
            if addresses and addresses != list(mail.recipients):
                changed = [list(mail.recipients), addresses]
                # its To: header named the old address: rebuilt when sent
                outbox.update(recipients=addresses, raw=None)
            outbox.update(
                state=MailStatus.QUEUED.value, attempts=0, next_attempt_at=self.uow.clock.now(),
                claimed_by=None, lease_until=None,
            )
            self._mail_event(
                s, conn, mail, outbox, MailStatus.QUEUED, "retry-requested", actor=actor,
                detail=f"queued again by {actor}", audit_action="mail-retry-requested",
                recipient=addresses[0] if changed else None, recipients=changed,
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
