"""Tables of the records store (SQLAlchemy 2 declarative).

Personal data (names, addresses, notes, PEP content) lives here and nowhere else:
process variables carry only the identifiers these tables are keyed by. The workflow
engine's own tables are defined in ``pepflow.engine`` against a separate metadata.

Enumerated values are stored as plain strings (validated in the repository against
:mod:`pepflow.domain.enums`) so that a new value never needs a database enum migration.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from pepflow.store.model_base import NAMING_CONVENTION, Base, Code, Email, Id, Name  # noqa: F401

class StaffRow(Base):
    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(Name)
    email: Mapped[str] = mapped_column(Email)
    team: Mapped[str | None] = mapped_column(Code)
    candidate_group: Mapped[str | None] = mapped_column(sa.String(80))
    #: the user name the council's Identity (Camunda Tasklist, single sign-on) knows
    #: this person by: a process's assignee is this login, never the staff id
    login: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    roles: Mapped[list[StaffRoleRow]] = relationship(
        cascade="all, delete-orphan", order_by="StaffRoleRow.role", lazy="selectin"
    )


class StaffRoleRow(Base):
    __tablename__ = "staff_roles"

    staff_id: Mapped[str] = mapped_column(
        sa.ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(Code, primary_key=True, index=True)


class SettingRow(Base):
    __tablename__ = "education_settings"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(Name)
    kind: Mapped[str] = mapped_column(Code)
    designated_teacher_name: Mapped[str | None] = mapped_column(Name)
    designated_teacher_email: Mapped[str | None] = mapped_column(Email)
    locality: Mapped[str | None] = mapped_column(Code)


class ChildRow(Base):
    __tablename__ = "children"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    given_name: Mapped[str] = mapped_column(Name)
    family_name: Mapped[str] = mapped_column(Name)
    date_of_birth: Mapped[date] = mapped_column(sa.Date)
    legal_status: Mapped[str | None] = mapped_column(sa.String(80))
    locality: Mapped[str | None] = mapped_column(Code)
    social_worker_id: Mapped[str | None] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    # children <-> contacts is a cycle; the constraint is added after both tables exist.
    carer_contact_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("contacts.id", use_alter=True, name="fk_children_carer_contact_id_contacts")
    )


class StaffAllocationRow(Base):
    """A staff member allocated to a child in a role (social worker, leaving care
    worker, personal adviser) from one date (to another). The PEP owner at any date
    is the allocation in the role the child's age needs on that date."""

    __tablename__ = "staff_allocations"
    __table_args__ = (sa.Index("ix_staff_allocations_child_role", "child_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    child_id: Mapped[str] = mapped_column(sa.ForeignKey("children.id"))
    staff_id: Mapped[str] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    role: Mapped[str] = mapped_column(Code)
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(Id)


class StaffAbsenceRow(Base):
    """A staff member away from one date to another (leave, sickness), and the
    colleague who covers their children's PEP tasks meanwhile."""

    __tablename__ = "staff_absences"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    staff_id: Mapped[str] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    cover_staff_id: Mapped[str] = mapped_column(sa.ForeignKey("staff.id"))
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    reason: Mapped[str] = mapped_column(sa.String(500))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(Id)


class TaskReassignmentRow(Base):
    """One open PEP-owner task given to a named colleague by a team manager or the PEP
    co-ordinator, with the reason: it stays with them (the allocation's daily check
    leaves it) until it is completed or given back."""

    __tablename__ = "task_reassignments"

    user_task_key: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    child_id: Mapped[str] = mapped_column(sa.ForeignKey("children.id"), index=True)
    staff_id: Mapped[str] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(500))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(Id)


class ContactRow(Base):
    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    child_id: Mapped[str] = mapped_column(sa.ForeignKey("children.id"), index=True)
    role: Mapped[str] = mapped_column(Code)
    name: Mapped[str] = mapped_column(Name)
    email: Mapped[str | None] = mapped_column(Email)
    receives_pep: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class EnrolmentRow(Base):
    """A child at an education setting from one date (to another)."""

    __tablename__ = "enrolments"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    child_id: Mapped[str] = mapped_column(sa.ForeignKey("children.id"), index=True)
    setting_id: Mapped[str] = mapped_column(sa.ForeignKey("education_settings.id"))
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date | None] = mapped_column(sa.Date)


class CareEpisodeRow(Base):
    __tablename__ = "care_episodes"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    child_id: Mapped[str] = mapped_column(sa.ForeignKey("children.id"), index=True)
    entered_care_on: Mapped[date] = mapped_column(sa.Date)
    emergency: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    left_care_on: Mapped[date | None] = mapped_column(sa.Date)
    left_care_reason: Mapped[str | None] = mapped_column(sa.String(200))


class TermDatesRow(Base):
    """One term of one academic year: the council default (no setting) or a setting's own."""

    __tablename__ = "term_dates"
    __table_args__ = (sa.UniqueConstraint("scope", "academic_year", "term"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    #: ``council`` or the setting id (a plain column so uniqueness works with no setting)
    scope: Mapped[str] = mapped_column(Id)
    setting_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("education_settings.id"), index=True
    )
    academic_year: Mapped[int] = mapped_column(sa.Integer)
    term: Mapped[str] = mapped_column(sa.String(10))
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    half_term_starts_on: Mapped[date | None] = mapped_column(sa.Date)
    half_term_ends_on: Mapped[date | None] = mapped_column(sa.Date)


class InsetDayRow(Base):
    __tablename__ = "inset_days"
    __table_args__ = (sa.UniqueConstraint("scope", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(Id)
    setting_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("education_settings.id"), index=True
    )
    academic_year: Mapped[int] = mapped_column(sa.Integer)
    day: Mapped[date] = mapped_column(sa.Date)


class PepRow(Base):
    __tablename__ = "peps"
    __table_args__ = (sa.UniqueConstraint("child_id", "academic_year", "term", "sequence"),)

    id: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    child_id: Mapped[str] = mapped_column(sa.ForeignKey("children.id"), index=True)
    care_episode_id: Mapped[str | None] = mapped_column(sa.ForeignKey("care_episodes.id"))
    academic_year: Mapped[int] = mapped_column(sa.Integer)
    term: Mapped[str] = mapped_column(sa.String(10))
    sequence: Mapped[int] = mapped_column(sa.Integer, default=1)
    status: Mapped[str] = mapped_column(Code)
    is_initial: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    setting_id: Mapped[str | None] = mapped_column(sa.ForeignKey("education_settings.id"))
    variant: Mapped[str] = mapped_column(Code)
    owner_role: Mapped[str] = mapped_column(Code)
    owner_staff_id: Mapped[str | None] = mapped_column(sa.ForeignKey("staff.id"))
    meeting_at: Mapped[datetime | None]
    form_sent_at: Mapped[datetime | None]
    form_returned_at: Mapped[datetime | None]
    finalised_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    attendees: Mapped[list[PepAttendeeRow]] = relationship(
        cascade="all, delete-orphan", order_by="PepAttendeeRow.position", lazy="selectin"
    )


class PepAttendeeRow(Base):
    __tablename__ = "pep_attendees"

    pep_id: Mapped[str] = mapped_column(
        sa.ForeignKey("peps.id", ondelete="CASCADE"), primary_key=True
    )
    attendee_id: Mapped[str] = mapped_column(Id, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)


class PepSectionRow(Base):
    __tablename__ = "pep_sections"

    pep_id: Mapped[str] = mapped_column(sa.ForeignKey("peps.id"), primary_key=True)
    section: Mapped[str] = mapped_column(Code, primary_key=True)
    content: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(Id)


class DocumentVersionRow(Base):
    __tablename__ = "document_versions"
    __table_args__ = (
        sa.UniqueConstraint("pep_id", "kind", "version"),
        # one version per document per PEP per purpose (a step run again after a
        # crash finds the version it made; NULL purposes never collide)
        sa.UniqueConstraint("pep_id", "kind", "purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    pep_id: Mapped[str] = mapped_column(sa.ForeignKey("peps.id"), index=True)
    kind: Mapped[str] = mapped_column(Code)
    version: Mapped[int] = mapped_column(sa.Integer)
    filename: Mapped[str] = mapped_column(sa.String(255))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    content: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    path: Mapped[str | None] = mapped_column(sa.String(1024))
    #: what the version was made for (the step and its element instance), or NULL
    purpose: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(Id)


class SchoolReturnRow(Base):
    """One returned form as read, before and after business support reviewed it
    (issue 12): what was read, what was flagged, what it changes against the
    returns accepted before, and the decision. The school's text lives here and in the
    kept document, never in a process variable."""

    __tablename__ = "school_returns"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    pep_id: Mapped[str] = mapped_column(sa.ForeignKey("peps.id"), index=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("document_versions.id"))
    #: the version of the PEP's form whose password opened the file (NULL: not protected)
    form_version: Mapped[int | None] = mapped_column(sa.Integer)
    latest_form_version: Mapped[int | None] = mapped_column(sa.Integer)
    #: pending, accepted, queried (the school was asked again), withdrawn
    status: Mapped[str] = mapped_column(Code)
    values: Mapped[dict[str, Any]]
    findings: Mapped[list[Any]]
    changes: Mapped[list[Any]]
    edits: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    query: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime]
    received_by: Mapped[str] = mapped_column(Id)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(Id)


class MailLogRow(Base):
    __tablename__ = "mail_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    pep_id: Mapped[str | None] = mapped_column(sa.ForeignKey("peps.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(80))
    recipient: Mapped[str] = mapped_column(Email)
    status: Mapped[str] = mapped_column(Code)
    status_history: Mapped[list[Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MailOutboxRow(Base):
    """The full message of one ``mail_log`` entry, waiting for (or done with) the sender.

    ``state`` mirrors the mail log's status (``queued``, ``sent``, ``failed``) so the
    sender's queue query is one indexed lookup; ``claimed_by``/``lease_until`` keep two
    senders from sending the same message at once (an expired lease is up for grabs
    again: the claimant died).
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (sa.Index("ix_mail_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    mail_log_id: Mapped[int] = mapped_column(
        sa.ForeignKey("mail_log.id", ondelete="CASCADE"), unique=True
    )
    message_id: Mapped[str] = mapped_column(sa.String(255))
    sender: Mapped[str] = mapped_column(Email)
    sender_name: Mapped[str | None] = mapped_column(Name)
    reply_to: Mapped[str | None] = mapped_column(Email)
    recipients: Mapped[list[Any]]
    recipient_party_id: Mapped[str | None] = mapped_column(Id)
    recipient_role: Mapped[str | None] = mapped_column(Code)
    subject: Mapped[str] = mapped_column(sa.String(500))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str | None] = mapped_column(sa.Text)
    raw: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    date: Mapped[datetime]
    process_instance_key: Mapped[int | None] = mapped_column(sa.BigInteger)
    element_id: Mapped[str | None] = mapped_column(sa.String(255))
    state: Mapped[str] = mapped_column(Code)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(sa.String(80))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None]
    attachments: Mapped[list[MailOutboxAttachmentRow]] = relationship(
        cascade="all, delete-orphan", order_by="MailOutboxAttachmentRow.position", lazy="raise"
    )


class MailOutboxAttachmentRow(Base):
    """An attachment of a queued message: its bytes, or the stored document version."""

    __tablename__ = "mail_outbox_attachments"
    __table_args__ = (
        sa.CheckConstraint(
            "(content IS NULL) <> (document_version_id IS NULL)", name="bytes_or_document"
        ),
    )

    outbox_id: Mapped[int] = mapped_column(
        sa.ForeignKey("mail_outbox.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(255))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    content: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    document_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("document_versions.id"), index=True
    )


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(Id)
    entity: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[str] = mapped_column(sa.String(80))
    action: Mapped[str] = mapped_column(sa.String(60))
    diff: Mapped[dict[str, Any]]


class CouncilEventRow(Base):
    """What the council told the product happened to a child (flowchart events), kept
    as a fact before the process is told: entry into care, leaving care, a change of
    school, a returned form. The process reads the facts when it reaches the point
    where they matter; this log says what was recorded, by whom, and when the process
    was told (``message_key``)."""

    __tablename__ = "council_events"
    __table_args__ = (sa.Index("ix_council_events_child", "child_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(Code)
    child_id: Mapped[str] = mapped_column(sa.ForeignKey("children.id"))
    care_episode_id: Mapped[str | None] = mapped_column(sa.ForeignKey("care_episodes.id"))
    pep_id: Mapped[str | None] = mapped_column(sa.ForeignKey("peps.id"))
    occurred_on: Mapped[date] = mapped_column(sa.Date)
    details: Mapped[dict[str, Any]]
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(Id)
    message_name: Mapped[str | None] = mapped_column(sa.String(80))
    message_key: Mapped[str | None] = mapped_column(sa.String(40))
    told_process_at: Mapped[datetime | None]


class EscalationRow(Base):
    """A wait that a person owns ran past its deadline and the PEP co-ordinator was
    told. Open until the PEP moves past that wait (or closes)."""

    __tablename__ = "escalations"
    __table_args__ = (sa.UniqueConstraint("pep_id", "kind", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    pep_id: Mapped[str] = mapped_column(sa.ForeignKey("peps.id"), index=True)
    child_id: Mapped[str] = mapped_column(sa.ForeignKey("children.id"), index=True)
    kind: Mapped[str] = mapped_column(Code)
    owner_staff_id: Mapped[str | None] = mapped_column(Id)
    due_at: Mapped[datetime]
    raised_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(sa.String(200))


# The Virtual School's quality assurance and Pupil Premium Plus tables, on this metadata.
#: Options for ``session.get`` of one PEP or one member of staff: the row and its
#: collection in one joined statement, where the relationship's own ``selectin`` takes
#: two (a PEP is read by key at almost every step of the casework).
PEP_AND_ATTENDEES = (joinedload(PepRow.attendees),)
STAFF_AND_ROLES = (joinedload(StaffRow.roles),)
#: whether a PEP exists (``pep_id``): its id or nothing, built once
PEP_EXISTS = sa.select(PepRow.id).where(PepRow.id == sa.bindparam("pep_id"))

from pepflow.store import quality_models  # noqa: E402,F401
