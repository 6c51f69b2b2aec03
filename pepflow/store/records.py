"""Immutable records handed out by :class:`pepflow.store.RecordsStore`.

They are detached copies: nothing a caller does to them touches the database.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from pepflow.domain.enums import (
    ContactRole,
    DocumentKind,
    MailStatus,
    OwnerRole,
    PepStatus,
    SettingKind,
    StaffRole,
    TermName,
    Variant,
)


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class Address(Record):
    """Someone to send to."""

    name: str
    email: str
    party_id: str | None = None
    role: str | None = None

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class Staff(Record):
    id: str
    name: str
    email: str
    roles: tuple[StaffRole, ...]
    team: str | None = None
    candidate_group: str | None = None
    login: str | None = None


class Allocation(Record):
    """A staff member allocated to a child in an owner role, from a date (to a date)."""

    id: int
    child_id: str
    staff_id: str
    role: OwnerRole
    starts_on: date
    ends_on: date | None = None

    def covers(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)


class Setting(Record):
    id: str
    name: str
    kind: SettingKind
    designated_teacher_name: str | None = None
    designated_teacher_email: str | None = None
    locality: str | None = None


class Child(Record):
    id: str
    given_name: str
    family_name: str
    date_of_birth: date
    legal_status: str | None = None
    locality: str | None = None
    social_worker_id: str | None = None
    carer_contact_id: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class Contact(Record):
    id: str
    child_id: str
    role: ContactRole
    name: str
    email: str | None = None
    receives_pep: bool = False


class Enrolment(Record):
    id: int
    child_id: str
    setting_id: str
    starts_on: date
    ends_on: date | None = None


class CareEpisode(Record):
    id: str
    child_id: str
    entered_care_on: date
    emergency: bool
    left_care_on: date | None = None
    left_care_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.left_care_on is None


class Pep(Record):
    id: str
    child_id: str
    care_episode_id: str | None
    academic_year: int
    term: TermName
    sequence: int
    status: PepStatus
    is_initial: bool
    setting_id: str | None
    variant: Variant
    owner_role: OwnerRole
    owner_staff_id: str | None
    meeting_at: datetime | None = None
    form_sent_at: datetime | None = None
    form_returned_at: datetime | None = None
    finalised_at: datetime | None = None
    attendee_ids: tuple[str, ...] = ()
    created_at: datetime
    updated_at: datetime

    @property
    def has_setting_input(self) -> bool:
        return self.variant.has_setting_input


class DocumentVersion(Record):
    id: int
    pep_id: str
    kind: DocumentKind
    version: int
    filename: str
    sha256: str
    size: int
    path: str | None = None
    purpose: str | None = None
    created_at: datetime
    created_by: str


class MailLogEntry(Record):
    id: int
    idempotency_key: str
    pep_id: str | None
    kind: str
    recipient: str
    status: MailStatus
    status_history: tuple[dict[str, Any], ...]
    created_at: datetime
    updated_at: datetime


class OutboxAttachment(Record):
    """An attachment of a queued message; ``data`` is filled only when loaded to send."""

    position: int
    filename: str
    content_type: str
    size: int
    sha256: str
    document_version_id: int | None = None
    data: bytes | None = None


class OutboxMessage(Record):
    """A message in the outbox, everything the sender needs to send it again exactly."""

    mail_id: int
    idempotency_key: str
    pep_id: str | None
    kind: str
    message_id: str
    sender: str
    sender_name: str | None
    reply_to: str | None
    recipients: tuple[str, ...]
    recipient_party_id: str | None
    recipient_role: str | None
    subject: str
    text_body: str
    html_body: str | None
    date: datetime
    state: MailStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    attachments: tuple[OutboxAttachment, ...] = ()
    raw: bytes | None = None  # the message as built when queued (see MailOutboxRow.raw)


class MailSummary(Record):
    """One message for ``pep mail status``: the mail log entry and its outbox state."""

    mail_id: int
    idempotency_key: str
    pep_id: str | None
    kind: str
    recipient: str
    status: MailStatus
    status_history: tuple[dict[str, Any], ...]
    message_id: str | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class AuditEntry(Record):
    id: int
    at: datetime
    actor_id: str
    entity: str
    entity_id: str
    action: str
    diff: dict[str, Any]


class CouncilEvent(Record):
    """A fact the council recorded about a child, and when the process was told."""

    id: int
    kind: str
    child_id: str
    care_episode_id: str | None
    pep_id: str | None
    occurred_on: date
    details: dict[str, Any]
    recorded_at: datetime
    recorded_by: str
    message_name: str | None = None
    message_key: str | None = None
    told_process_at: datetime | None = None


class Escalation(Record):
    """A late wait reported to the PEP co-ordinator; open until resolved."""

    id: int
    pep_id: str
    child_id: str
    kind: str
    owner_staff_id: str | None
    due_at: datetime
    raised_at: datetime
    resolved_at: datetime | None = None
    resolution: str | None = None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
