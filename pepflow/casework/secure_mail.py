"""Mail the casework queues, and protected documents: the one way a message is queued
(once per idempotency key), a document sent protected with its password kept apart,
the passwords themselves, and who a message is addressed to."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..documents import document_password, spell_password
from ..domain.enums import DocumentKind, Variant
from ..mail.links import STAFF_KINDS, pep_link
from ..mail.message import Attachment, OutgoingMail, message_bytes
from ..mail.outbox import bounded_key, enqueue
from ..mail.templates import render
from ..mail.wording import designated_role
from ..store import records as r
from .base import DOCX, SYSTEM

if TYPE_CHECKING:
    from .context import CaseContext


class SecureMail:
    def __init__(self, ctx: CaseContext) -> None:
        self.ctx = ctx

    async def queue(self, key: str, kind: str, pep: r.Pep | None, recipient: r.Address, context: dict[str, Any], attachments: tuple[tuple[int, str, str], ...] = (), files: tuple[Attachment, ...] = (), not_before: datetime | None = None) -> bool:
        """Queue one message once: the idempotency key makes a retried or re-delivered
        job a no-op for what was queued already (whatever became of it). The message is
        recorded in full (rendered, attachments by document version) and the step goes
        on; the outbox sender delivers it. Returns whether it was queued now."""
        key = bounded_key(key)
        if self.ctx.store.mail_entry(key) is not None:
            return False
        if kind in STAFF_KINDS:  # staff open the PEP in the web; outside readers get no link
            context = {**context, "web_link": pep_link(self.ctx.config.web_base_url, pep.id) if pep else None}
        rendered = render(kind, {
            "council_name": self.ctx.config.council_name, "sender_team": self.ctx.config.sender_team, **context,
        })
        mail = OutgoingMail(
            idempotency_key=key, sender=self.ctx.config.sender, sender_name=self.ctx.config.sender_team,
            recipients=(recipient.email,), subject=rendered.subject, text_body=rendered.text,
            html_body=rendered.html, date=self.ctx.now(), attachments=files,
        )
        # a protected file makes the message some 60 KB to encode: a document worker does it,
        # and this process's interpreter goes on with other jobs meanwhile
        raw = await asyncio.to_thread(self.ctx.spins.encode, message_bytes, mail) if files and not attachments else None
        return enqueue(
            self.ctx.store, mail, kind=kind, pep_id=pep.id if pep else None,
            document_attachments=attachments, recipient_party_id=recipient.party_id,
            recipient_role=recipient.role, actor=SYSTEM, not_before=not_before, raw=raw,
        )

    def setting_secret(self, pep: r.Pep) -> bytes:
        """The secret a setting's document passwords derive from: keyed by the council's
        document secret, so nothing per setting needs storing and a new council secret
        rotates them all. A child with no setting has a secret of their own."""
        scope = f"setting:{pep.setting_id}" if pep.setting_id else f"child:{pep.child_id}"
        return hmac.new(self.ctx.config.document_secret, scope.encode(), hashlib.sha256).digest()

    def document_password(self, pep_id: str, kind: DocumentKind | str, version: int | None = None) -> tuple[str, int]:
        """The password of a document version (default: the latest) and that version."""
        pep = self.ctx.store.pep(pep_id)
        kind = DocumentKind(kind)
        if version is None:
            document = self.ctx.store.latest_document(pep.id, kind)
            if document is None:
                raise LookupError(f"{pep.id} has no {kind.value} document")
            version = document.version
        else:
            made = [d.version for d in self.ctx.store.documents(pep.id, kind)]
            if version not in made:
                raise LookupError(
                    f"{pep.id} has no version {version} of its {kind.value} document "
                    f"(versions: {', '.join(map(str, made)) or 'none'})"
                )
        return self._password(pep, kind, version), version

    def _password(self, pep: r.Pep, kind: DocumentKind, version: int) -> str:
        return document_password(self.setting_secret(pep), pep.id, version, kind=kind.value)

    def give_password(self, pep_id: str, kind: str, version: int | None, *, actor: str, to: str) -> tuple[str, str, int]:
        """A password read out to a designated teacher by phone: audited."""
        password, version = self.document_password(pep_id, kind, version)
        self.ctx.store.record_event("pep", pep_id, "document-password-given", actor=actor, details={
            "kind": kind, "version": version, "to": to,
        })
        return password, spell_password(password), version

    def protected_file(self, pep: r.Pep, kind: DocumentKind) -> tuple[Attachment, str]:
        """The latest version of a document, password-protected (AES-256 agile)."""
        document = self.ctx.store.latest_document(pep.id, kind)
        if document is None:
            raise LookupError(f"{pep.id} has no {kind.value} document to send")
        # the version just read exists: only the PEP is read again (its setting now)
        password = self._password(self.ctx.store.pep(pep.id), DocumentKind(kind), document.version)
        data = self.ctx.protected.get(document.id, password, lambda: self.ctx.spins.protect(
            self.ctx.store.document_content(document.id), password))
        return Attachment(filename=document.filename, content_type=DOCX, data=data), password

    async def send_protected(self, pep: r.Pep, template: str, kind: str, document_kind: DocumentKind, recipients: list[r.Address], context: dict[str, Any]) -> None:
        """Send a document to each recipient, protected; the password never goes with
        it (by phone, or in a separate message when the council chose that)."""
        by_phone = self.ctx.config.password_channel != "separate-email"
        attachment, password = await asyncio.to_thread(self.protected_file, pep, document_kind)
        for recipient in recipients:
            key = f"{pep.id}:{template}:{recipient.email}"
            reader = {"recipient_role": self.reader_role(recipient)}
            await self.queue(key, kind, pep, recipient, {**context, **reader, "password_by_phone": by_phone}, files=(attachment,))
            if not by_phone:
                await self.queue(f"{key}:password", "form-password", pep, recipient, {
                    "pep_reference": pep.id, "document_name": attachment.filename, "password": password, **reader,
                }, not_before=self.ctx.now() + self.ctx.config.password_delay)

    def reader_role(self, recipient: r.Address) -> str:
        """How a message addresses its reader (:mod:`pepflow.mail.wording`): a setting's
        designated teacher, practitioner or person by the kind of setting; a contact by
        their role; a member of staff by their job."""
        role = recipient.role or ""
        if role == "designated-teacher" and recipient.party_id:
            return designated_role(self.ctx.store.setting(recipient.party_id).kind.value)
        if role in ("staff", "owner") and recipient.party_id:
            roles = [x.value for x in self.ctx.store.staff(recipient.party_id).roles]
            for job in ("social-worker", "leaving-care-worker", "personal-adviser", "pep-coordinator", "business-support"):
                if job in roles:
                    return job
            return "staff"
        return role or "other"

    def current_address(self, party_id: str | None, role: str | None) -> str | None:
        """Where the records now say mail for ``party_id`` in ``role`` goes (``None`` if
        the message was not addressed to a recorded party)."""
        if role == "virtual-school":
            return self.ctx.store.virtual_school_address().email
        if role == "pep-coordinator":
            return self.ctx.store.pep_coordinator_address().email
        if not party_id:
            return None
        if role == "owner":
            return self.ctx.store.staff(party_id).email
        return self.ctx.store.address_for(party_id).email

    def retry_mail(self, mail_id: int, *, actor: str) -> r.MailSummary:
        """Queue a failed message again, to the address the records give now (business
        support corrects the address in the records first)."""
        message = self.ctx.store.outbox_message(mail_id)
        address = self.current_address(message.recipient_party_id, message.recipient_role)
        recipients = [address] if address and len(message.recipients) == 1 else None
        summary = self.ctx.store.requeue_mail(mail_id, actor=actor, recipients=recipients)
        self.ctx.sender.wake()
        return summary

    def setting_recipients(self, pep: r.Pep) -> list[r.Address]:
        if pep.variant == Variant.EARLY_YEARS_NO_SETTING:
            recipients = self.ctx.store.early_years_recipients(pep.child_id)
            if not recipients:
                raise LookupError(f"{pep.id}: no Health Visitor or carer to send the PEP to for {pep.child_id}")
            return recipients
        if not pep.setting_id:
            raise LookupError(f"{pep.id} has no education setting")
        return [self.ctx.store.designated_teacher_address(pep.setting_id)]
