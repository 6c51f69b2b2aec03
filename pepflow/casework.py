"""The PEP casework the workers do: records, dates, documents and mail together.

Each method is one step of the council's flowchart, called by a thin pyzeebe handler
in ``workers/``. Methods take identifiers and dates (what process variables carry)
and return the identifiers and dates the diagram needs next; names, addresses and
notes stay in the records store and the documents. Every change goes through the
records store, which audits it.

Steps are safe to run again (a job can be retried or handed out twice): they look
for what an earlier run already did before doing it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .calendar import MissingTermDates, SchoolCalendar, WorkingDays, academic_year_label, academic_year_of
from .clock import Clock
from .config import AppSettings
from .documents import (
    MeetingRecord,
    PepFormContent,
    PepIdentity,
    SchoolReturn,
    render_final_pep,
    render_pep_form,
)
from .domain.enums import DocumentKind, PepSection, PepStatus, VenueCode, Variant
from .domain.rules import aged_out, initial_meeting_due, setting_change_pep_due
from .meetings import NO_PROBLEM, MeetingDates, Problem
from .domain.meeting_dates import long_date
from .escalation import kind as escalation_kind
from .mail.wording import designated_role
from .domain.settings import Settings
from .meeting_options import contact_options
from .documents import document_password, protect, spell_password
from .documents.final_pdf import FinalPdf
from .documents.protected_copies import ProtectedCopies
from .mail.message import Attachment, OutgoingMail
from .mail.outbox import OutboxSender, bounded_key, enqueue
from .mail.templates import render
from .mail.transport import Mailer
from .ownership import assignment_for, team_manager_group
from .pep_content import OWNER_LABELS as _OWNER_LABELS, finalised_by, form_content, meeting_record
from .store import RecordsStore
from .mail.links import STAFF_KINDS, pep_link
from .store import records as r

log = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")
SYSTEM = "system"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_TERM_CODES = {"autumn": "Autumn", "spring": "Spring", "summer": "Summer"}


def at_local(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A wall-clock time in England on ``day``, as an aware UTC instant."""
    return datetime.combine(day, time(hour, minute), LONDON).astimezone(timezone.utc)


def iso(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


#: Tasklist fills a form from the process variables, so a value left from an earlier
#: task shows as this one's answer. The termly cycle's forms start empty each term
#: (cleared when the term's PEP is scheduled) ...
CYCLE_FORMS_CLEARED = {
    "swSectionComplete": None, "developmentInfoRecorded": None,  # complete-pep-form
    "attendeeIds": None, "nextPepDate1": None, "nextPepDate2": None, "nextMeetingDates": None,  # record-pep-meeting
    "typedUp": None,  # type-up-pep
    "pepApproved": None, "returnReasonCode": None,  # finalise-pep
    "reviewDecision": None, "queryReasonCode": None,  # review-returned-form
}
#: ... and each review of a returned form starts empty (a second return after the
#: school was asked again opens a fresh review)
REVIEW_FORM_CLEARED = {"reviewDecision": None, "queryReasonCode": None}
#: ... and in the loop of box 6, each round's form starts empty too
TYPE_UP_FORM_CLEARED = {"typedUp": None}
FINALISE_FORM_CLEARED = {"pepApproved": None, "returnReasonCode": None}


def parse_instant(value: str | datetime) -> datetime:
    """ISO date-time from a variable; a time without offset is England local time (what
    a person types into a form)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if len(text) == 10:  # a bare date: the working day starts at 09:00
            return at_local(date.fromisoformat(text))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LONDON)
    return parsed.astimezone(timezone.utc)


def local_date(instant: datetime) -> date:
    return instant.astimezone(LONDON).date()


def _school_days_back(calendar: SchoolCalendar, day: date, n: int, floor: date) -> date:
    """``n`` school days before ``day``, or ``floor`` if counting would pass it."""
    while n > 0:
        day -= timedelta(days=1)
        if day < floor:
            return floor
        if calendar.is_school_day(day):
            n -= 1
    return day


@dataclass(frozen=True)
class CaseworkConfig:
    council_name: str = "Example Council (fictional)"
    sender: str = "pep.business.support@council.example.org"
    sender_team: str = "Virtual School and locality business support"
    # HMAC secret for the check value a returned form must carry (settings object)
    document_secret: bytes = field(default=b"development-only-document-secret", repr=False)
    documents_dir: Path | None = None
    settings: Settings = field(default_factory=Settings)
    meeting_hour: int = 10
    # how a designated teacher gets a protected document's password: by phone from
    # business support (default; `pep password`), or a separate e-mail
    password_channel: str = "phone"
    # in separate-email mode the password follows the file this much later, never in
    # the same moment to the same mailbox (a mailbox read by someone else meanwhile
    # can be noticed, and the message recalled)
    password_delay: timedelta = timedelta(hours=2)
    # keep a tagged PDF copy of each final PEP where LibreOffice is installed
    final_pdf: bool = True
    # where staff open the web: staff e-mails link to the PEP's page there
    web_base_url: str = "http://127.0.0.1:8000"


def casework_config(settings: AppSettings) -> CaseworkConfig:
    """The casework settings of a deployment (embedded, worker service or CLI)."""
    return CaseworkConfig(
        council_name=settings.council_name, sender=settings.mail_sender,
        document_secret=settings.document_secret.get_secret_value().encode(),
        documents_dir=settings.data_dir / "documents",
        password_channel=settings.password_channel, final_pdf=settings.final_pdf,
        password_delay=timedelta(minutes=settings.password_delay_minutes),
        web_base_url=settings.web_base_url,
    )


class Casework:
    def __init__(self, store: RecordsStore, mailer: Mailer, clock: Clock, config: CaseworkConfig | None = None, *, sender: OutboxSender | None = None, pdf: FinalPdf | None = None) -> None:
        self.store = store
        self.mailer = mailer
        self.clock = clock
        self.config = config or CaseworkConfig()
        # the composition root owns its LibreOffice pool and closes it; else the shared one
        self.pdf = pdf if pdf is not None else FinalPdf()
        self.working_days = WorkingDays()
        self.meetings = MeetingDates(store, clock, self.working_days)
        # a version's protected copy, made once for all its recipients
        self.protected = ProtectedCopies()
        # Steps only queue mail (``_send``); a sender delivers it. The composition root
        # runs its own sender alongside the workers and passes it in. Without one (a
        # bare worker, the process tests), the mail workers ask this sender to deliver
        # what is due right after their step (see ``workers/mail.py``).
        self.sender = sender if sender is not None else OutboxSender(store, mailer)
        self.deliver_after_steps = sender is None

    # ------------------------------------------------------------------ helpers
    def _now(self) -> datetime:
        return self.clock.now()

    def _today(self) -> date:
        return local_date(self._now())

    def _calendar(self, setting_id: str | None) -> SchoolCalendar:
        return self.store.school_calendar_for(setting_id)

    def _term_for(self, calendar: SchoolCalendar, day: date) -> tuple[int, str]:
        term = calendar.term_of(day)
        if term is not None:
            return academic_year_of(term.starts_on), term.name
        year, term = calendar.next_term(day)
        return year, term.name

    def _pep_variables(self, pep: r.Pep) -> dict[str, Any]:
        child = self.store.child(pep.child_id)
        assignment = assignment_for(self.store, pep.child_id, self._today())
        if assignment.note and not assignment.covering_for:  # said where people look: the PEP's history
            self.store.record_event("pep", pep.id, "owner-not-allocated", actor=SYSTEM, details={
                "role": assignment.role.value, "candidateGroups": list(assignment.candidate_groups),
                "note": assignment.note,
            })
        return {
            "pepId": pep.id,
            "settingId": pep.setting_id,
            "variant": pep.variant.value,
            "hasSettingInput": pep.variant != Variant.EARLY_YEARS_NO_SETTING,
            **assignment.variables(),  # ownerAssignee, ownerCandidateGroups, ownerRole (pepflow.ownership)
            # Zeebe's candidateGroups takes a list of strings (a string is an incident)
            "businessSupportGroups": [self.store.business_support_group(child.locality or "")],
            "isInitial": pep.is_initial,
            # the option list of the meeting forms (valuesKey), for Tasklist
            "contactOptions": contact_options(self.store, child.id, pep.setting_id),
        }

    def _open_pep(self, child_id: str) -> r.Pep | None:
        """The child's open PEP (a retried job finds what its first run opened). A final
        PEP is never reused, whatever its term: the next PEP is a new record."""
        return self.store.open_pep(child_id)

    def _initial_meeting_due(self, entered: date) -> date:
        settings = self.config.settings
        return initial_meeting_due(
            entered, settings.initial_meeting_days, settings.initial_meeting_day_kind, self.working_days,
            review_working_days=settings.initial_cla_review_working_days,
        )

    def _advance_status(self, pep_id: str, *targets: PepStatus, **changes: Any) -> r.Pep:
        """Move a PEP along the status path, skipping steps already taken."""
        pep = self.store.pep(pep_id)
        path = [
            PepStatus.NOT_STARTED, PepStatus.IN_PROGRESS, PepStatus.FORM_SENT, PepStatus.FORM_RETURNED,
            PepStatus.MEETING_HELD, PepStatus.TYPED_UP, PepStatus.FINAL,
        ]
        steps = []
        current = pep.status
        for target in targets:
            position = PepStatus.MEETING_HELD if current == PepStatus.RETURNED_FOR_CHANGES else current
            if position in path and target in path and path.index(target) <= path.index(position):
                continue
            steps.append(target)
            current = target
        # the last step carries the other changes: a PEP becomes final with its
        # finalisation date in one change (nothing about a final PEP changes after)
        for i, target in enumerate(steps):
            pep = self.store.update_pep(pep_id, actor=SYSTEM, status=target, **(changes if i == len(steps) - 1 else {}))
        if changes and not steps:
            pep = self.store.update_pep(pep_id, actor=SYSTEM, **changes)
        return pep

    def _identity(self, pep: r.Pep) -> PepIdentity:
        return PepIdentity(
            pep_reference=pep.id,
            child_id=pep.child_id,
            term=f"{_TERM_CODES[pep.term.value]} {pep.academic_year if pep.term.value == 'autumn' else pep.academic_year + 1}",
            academic_year=academic_year_label(pep.academic_year),
        )

    def _content(self, pep: r.Pep) -> PepFormContent:
        return form_content(self.store, pep, self._today())

    def _keep_document(self, pep: r.Pep, kind: DocumentKind, data: bytes, purpose: str | None = None) -> r.DocumentVersion:
        existing = self.store.documents(pep.id, kind)
        version = len(existing) + 1
        if kind == DocumentKind.FINAL_PDF:
            filename = f"{pep.id}-final-v{version}.pdf"
        else:
            filename = f"{pep.id}-{kind.value}-v{version}.docx"
        if self.config.documents_dir is not None:
            folder = self.config.documents_dir / pep.id
            folder.mkdir(parents=True, exist_ok=True)
            (folder / filename).write_bytes(data)
        return self.store.record_document(pep.id, kind, filename, content=data, purpose=purpose, actor=SYSTEM)

    async def _send(self, key: str, kind: str, pep: r.Pep | None, recipient: r.Address, context: dict[str, Any], attachments: tuple[tuple[int, str, str], ...] = (), files: tuple[Attachment, ...] = (), not_before: datetime | None = None) -> bool:
        """Queue one message once: the idempotency key makes a retried or re-delivered
        job a no-op for what was queued already (whatever became of it). The message is
        recorded in full (rendered, attachments by document version) and the step goes
        on; the outbox sender delivers it. Returns whether it was queued now."""
        key = bounded_key(key)
        if self.store.mail_entry(key) is not None:
            return False
        if kind in STAFF_KINDS:  # staff open the PEP in the web; outside readers get no link
            context = {**context, "web_link": pep_link(self.config.web_base_url, pep.id) if pep else None}
        rendered = render(kind, {
            "council_name": self.config.council_name, "sender_team": self.config.sender_team, **context,
        })
        mail = OutgoingMail(
            idempotency_key=key, sender=self.config.sender, sender_name=self.config.sender_team,
            recipients=(recipient.email,), subject=rendered.subject, text_body=rendered.text,
            html_body=rendered.html, date=self._now(), attachments=files,
        )
        return enqueue(
            self.store, mail, kind=kind, pep_id=pep.id if pep else None,
            document_attachments=attachments, recipient_party_id=recipient.party_id,
            recipient_role=recipient.role, actor=SYSTEM, not_before=not_before,
        )

    # ------------------------------------------------------------ protection
    def _setting_secret(self, pep: r.Pep) -> bytes:
        """The secret a setting's document passwords derive from: keyed by the council's
        document secret, so nothing per setting needs storing and a new council secret
        rotates them all. A child with no setting has a secret of their own."""
        scope = f"setting:{pep.setting_id}" if pep.setting_id else f"child:{pep.child_id}"
        return hmac.new(self.config.document_secret, scope.encode(), hashlib.sha256).digest()

    def document_password(self, pep_id: str, kind: DocumentKind | str, version: int | None = None) -> tuple[str, int]:
        """The password of a document version (default: the latest) and that version."""
        pep = self.store.pep(pep_id)
        kind = DocumentKind(kind)
        if version is None:
            document = self.store.latest_document(pep.id, kind)
            if document is None:
                raise LookupError(f"{pep.id} has no {kind.value} document")
            version = document.version
        else:
            made = [d.version for d in self.store.documents(pep.id, kind)]
            if version not in made:
                raise LookupError(
                    f"{pep.id} has no version {version} of its {kind.value} document "
                    f"(versions: {', '.join(map(str, made)) or 'none'})"
                )
        return document_password(self._setting_secret(pep), pep.id, version, kind=kind.value), version

    def give_password(self, pep_id: str, kind: str, version: int | None, *, actor: str, to: str) -> tuple[str, str, int]:
        """A password read out to a designated teacher by phone: audited."""
        password, version = self.document_password(pep_id, kind, version)
        self.store.record_event("pep", pep_id, "document-password-given", actor=actor, details={
            "kind": kind, "version": version, "to": to,
        })
        return password, spell_password(password), version

    def _protected_file(self, pep: r.Pep, kind: DocumentKind) -> tuple[Attachment, str]:
        """The latest version of a document, password-protected (AES-256 agile)."""
        document = self.store.latest_document(pep.id, kind)
        if document is None:
            raise LookupError(f"{pep.id} has no {kind.value} document to send")
        password, _ = self.document_password(pep.id, kind, document.version)
        data = self.protected.get(document.id, password, lambda: protect(self.store.document_content(document.id), password))
        return Attachment(filename=document.filename, content_type=DOCX, data=data), password

    async def _send_protected(self, pep: r.Pep, template: str, kind: str, document_kind: DocumentKind, recipients: list[r.Address], context: dict[str, Any]) -> None:
        """Send a document to each recipient, protected; the password never goes with
        it (by phone, or in a separate message when the council chose that)."""
        by_phone = self.config.password_channel != "separate-email"
        attachment, password = await asyncio.to_thread(self._protected_file, pep, document_kind)
        for recipient in recipients:
            key = f"{pep.id}:{template}:{recipient.email}"
            reader = {"recipient_role": self.reader_role(recipient)}
            await self._send(key, kind, pep, recipient, {**context, **reader, "password_by_phone": by_phone}, files=(attachment,))
            if not by_phone:
                await self._send(f"{key}:password", "form-password", pep, recipient, {
                    "pep_reference": pep.id, "document_name": attachment.filename, "password": password, **reader,
                }, not_before=self._now() + self.config.password_delay)

    def reader_role(self, recipient: r.Address) -> str:
        """How a message addresses its reader (:mod:`pepflow.mail.wording`): a setting's
        designated teacher, practitioner or person by the kind of setting; a contact by
        their role; a member of staff by their job."""
        role = recipient.role or ""
        if role == "designated-teacher" and recipient.party_id:
            return designated_role(self.store.setting(recipient.party_id).kind.value)
        if role in ("staff", "owner") and recipient.party_id:
            roles = [x.value for x in self.store.staff(recipient.party_id).roles]
            for job in ("social-worker", "leaving-care-worker", "personal-adviser", "pep-coordinator", "business-support"):
                if job in roles:
                    return job
            return "staff"
        return role or "other"

    def current_address(self, party_id: str | None, role: str | None) -> str | None:
        """Where the records now say mail for ``party_id`` in ``role`` goes (``None`` if
        the message was not addressed to a recorded party)."""
        if role == "virtual-school":
            return self.store.virtual_school_address().email
        if role == "pep-coordinator":
            return self.store.pep_coordinator_address().email
        if not party_id:
            return None
        if role == "owner":
            return self.store.staff(party_id).email
        return self.store.address_for(party_id).email

    def retry_mail(self, mail_id: int, *, actor: str) -> r.MailSummary:
        """Queue a failed message again, to the address the records give now (business
        support corrects the address in the records first)."""
        message = self.store.outbox_message(mail_id)
        address = self.current_address(message.recipient_party_id, message.recipient_role)
        recipients = [address] if address and len(message.recipients) == 1 else None
        summary = self.store.requeue_mail(mail_id, actor=actor, recipients=recipients)
        self.sender.wake()
        return summary

    def _return_by(self, pep: r.Pep, meeting_day: date, sent_on: date | None = None) -> date:
        """The form is due back the school day before the reminder, which goes a set
        number of school days before the meeting; but never sooner than a school day
        after the form went (an initial PEP's form goes as soon as possible)."""
        calendar = self._calendar(pep.setting_id)
        if sent_on is None:
            sent_on = local_date(pep.form_sent_at) if pep.form_sent_at else self._today()
        anchor = calendar.last_school_day_on_or_before(meeting_day)
        # counting back never needs to pass the day the form went: anything earlier is
        # overruled below (and may lie in a year whose term dates are not needed)
        planned = _school_days_back(calendar, anchor, self.config.settings.form_reminder_school_days + 1, sent_on)
        return max(planned, calendar.add_school_days(sent_on, 1))

    def _form_reminder_at(self, pep: r.Pep, meeting: datetime, sent_on: date) -> datetime:
        """The school day after the form was due back, 09:00. A reminder that would
        fall at or after the meeting is pointless (the meeting never waits), so it
        is put after the meeting, where the interrupted wait never reaches it."""
        calendar = self._calendar(pep.setting_id)
        return_by = self._return_by(pep, local_date(meeting), sent_on)
        reminder = at_local(calendar.add_school_days(return_by, 1))
        return reminder if reminder < meeting else meeting + timedelta(days=1)

    def _setting_recipients(self, pep: r.Pep) -> list[r.Address]:
        if pep.variant == Variant.EARLY_YEARS_NO_SETTING:
            recipients = self.store.early_years_recipients(pep.child_id)
            if not recipients:
                raise LookupError(f"{pep.id}: no Health Visitor or carer to send the PEP to for {pep.child_id}")
            return recipients
        if not pep.setting_id:
            raise LookupError(f"{pep.id} has no education setting")
        return [self.store.designated_teacher_address(pep.setting_id)]

    # ------------------------------------------------------------------ box 1
    def create_pep_record(self, child_id: str, entered_care_on: str, emergency: bool, care_episode_id: str | None = None) -> dict[str, Any]:
        entered = date.fromisoformat(entered_care_on)
        episode = self.store.open_care_episode(child_id, entered, emergency=emergency, actor=SYSTEM, episode_id=care_episode_id)
        today = max(self._today(), entered)
        calendar = self._calendar(None)
        year, term = self._term_for(calendar, today)
        pep = self._open_pep(child_id) or self.store.create_pep(
            child_id, year, term, actor=SYSTEM, is_initial=True, on=today, care_episode_id=episode.id
        )
        settings = self.config.settings
        due = self._initial_meeting_due(entered)
        # an entry recorded late: the reminder is due at once, and `send_reminder` lets
        # the escalation speak instead once the meeting is overdue
        reminder = self.working_days.add_working_days(due, -settings.initial_meeting_reminder_working_days)
        return {
            **self._pep_variables(pep),
            "careEpisodeId": episode.id,
            "initialMeetingDueAt": iso(at_local(due, 17)),
            "initialMeetingReminderAt": iso(max(at_local(reminder), self._now())),
        }

    def resume_pep_cycle(self, child_id: str) -> dict[str, Any]:
        """A child already in care when the council starts using the product: no
        initial PEP; the termly cycle starts with the next PEP, three school weeks
        into the current term (or the next one if that date has passed)."""
        episode = self.store.current_care_episode(child_id)
        if episode is None:
            raise LookupError(f"child {child_id} has no open care episode; record the entry into care first")
        today = self._today()
        pep = self._open_pep(child_id)
        if pep is None:
            setting = self.store.setting_for(child_id, today)
            calendar = self._calendar(setting.id if setting else None)
            term = calendar.term_of(today)
            meeting_day = calendar.add_school_days(term.starts_on, 15) if term else None
            if meeting_day is None or meeting_day <= today + timedelta(days=21):
                _year, term = calendar.next_term(today)
                meeting_day = calendar.add_school_days(term.starts_on, 15)
            meeting_day = self.meetings.first_valid(self.meetings.place(setting.id if setting else None), meeting_day)
            meeting = at_local(meeting_day, self.config.meeting_hour)
            year, term_name = self._term_for(calendar, meeting_day)
            pep = self.store.create_pep(
                child_id, year, term_name, actor=SYSTEM, on=today, meeting_at=meeting, care_episode_id=episode.id,
                setting_id=setting.id if setting else None,
            )
        return {
            **self._pep_variables(pep), "careEpisodeId": episode.id,
            "meetingAt": iso(pep.meeting_at) if pep.meeting_at else None,
        }

    def _form_returned(self, pep: r.Pep) -> bool:
        """Whether the school (or health visitor) has already returned a form for this
        PEP: an early return is a fact the process reads here, so nobody is asked for
        a form they already sent."""
        return pep.form_returned_at is not None or bool(self.store.documents(pep.id, DocumentKind.RETURNED))

    def _initial_form_sent(self, pep: r.Pep) -> r.DocumentVersion | None:
        """The form an initial PEP sent at entry (``SendInitialPepTask``), if it went."""
        if not pep.is_initial or pep.form_sent_at is None:
            return None
        return self.store.latest_document(pep.id, DocumentKind.FORM)

    def generate_pep_form(self, pep_id: str, purpose: str | None = None) -> dict[str, Any]:
        """Render and keep the PEP's Word form. With a ``purpose`` (the step's element
        instance) it is made once: run again after a crash, the step finds it."""
        pep = self.store.pep(pep_id)
        self.store.escalations.resolve(pep.id, ("social-worker-part",), "social worker's part done")
        if self._form_returned(pep):
            return {"formAlreadyReturned": True}
        if purpose is not None:
            made = self.store.document_for(pep.id, DocumentKind.FORM, purpose)
            if made is not None:
                return {"formDocumentId": made.id, "formAlreadyReturned": False}
        sent = self._initial_form_sent(pep)
        if sent is not None:
            # an initial PEP's form went to the setting at entry: the school has one
            # form for this PEP, never a second version to fill. Box 3 asks for that
            # same file back by a date (same version, same password); the worker's
            # part goes into the final PEP from the records
            return {"formDocumentId": sent.id, "formAlreadyReturned": False}
        data = render_pep_form(
            self._identity(pep), self._content(pep), self.config.document_secret,
            council_name=self.config.council_name, issued_on=self._today(),
        )
        document = self._keep_document(pep, DocumentKind.FORM, data, purpose)
        return {"formDocumentId": document.id, "formAlreadyReturned": False}

    async def send_secure_email(self, pep_id: str, template: str, to: str, attendee_id: str | None = None) -> dict[str, Any]:
        pep = self.store.pep(pep_id)
        if to == "setting":
            recipients = self._setting_recipients(pep)
        elif to == "attendee":
            if not attendee_id:
                raise LookupError(f"{pep_id}: sending to an attendee needs attendeeId")
            recipients = [self.store.address_for(attendee_id)]
        else:
            raise ValueError(f"unknown recipient kind {to!r} in the diagram's task header 'to'")
        if template == "pep-form" and self._form_returned(pep):
            # returned before it was sent (an initial PEP's school answered the form
            # sent at entry): take it in, never ask again
            self.store.escalations.resolve(pep.id, ("form-not-sent",), "form already returned")
            self._advance_status(pep_id, PepStatus.FORM_SENT, PepStatus.FORM_RETURNED, form_returned_at=self._now())
            return {"formAlreadyReturned": True}
        kind = template
        if template == "pep-form" and pep.variant == Variant.EARLY_YEARS_NO_SETTING:
            kind = "pep-form-health-visitor"
        meeting_day = local_date(pep.meeting_at) if pep.meeting_at else self._today()
        if template == "final-pep":
            document_kind = DocumentKind.FINAL
            context = {"pep_reference": pep.id, "meeting_date": meeting_day}
        elif template == "initial-pep":
            document_kind = DocumentKind.FORM
            episode = self.store.care_episode(pep.care_episode_id) if pep.care_episode_id else None
            due = self._initial_meeting_due(episode.entered_care_on) if episode else meeting_day
            context = {"pep_reference": pep.id, "meeting_due": due}
        else:
            document_kind = DocumentKind.FORM
            return_by = self._return_by(pep, meeting_day)
            context = {
                "pep_reference": pep.id, "meeting_date": meeting_day, "return_by": return_by,
                "on_behalf_of": "the locality business support officer",
            }
        await self._send_protected(pep, template, kind, document_kind, recipients, context)
        if template in ("pep-form", "initial-pep"):
            self._advance_status(pep_id, PepStatus.FORM_SENT, form_sent_at=pep.form_sent_at or self._now())
        if template == "pep-form":
            self.store.escalations.resolve(pep.id, ("form-not-sent",), "form sent")
            if pep.meeting_at is not None:
                # due back and reminder count from when the form really went (an
                # initial PEP's form waits for the social worker's part)
                return {
                    "formReminderAt": iso(self._form_reminder_at(pep, pep.meeting_at, self._today())),
                    "formAlreadyReturned": False,
                }
            return {"formAlreadyReturned": False}
        return {}

    async def notify_virtual_school(self, pep_id: str, entered_care_on: str, emergency: bool, initial_meeting_due_at: str) -> dict[str, Any]:
        pep = self.store.pep(pep_id)
        await self._send(
            f"{pep.id}:virtual-school-notice", "virtual-school-notice", pep, self.store.virtual_school_address(),
            {
                "pep_reference": pep.id, "entered_care_on": date.fromisoformat(entered_care_on),
                "emergency": bool(emergency), "meeting_due": local_date(parse_instant(initial_meeting_due_at)),
                "recipient_role": "virtual-school", "has_setting": pep.variant != Variant.EARLY_YEARS_NO_SETTING,
            },
        )
        return {}

    # ------------------------------------------------------------------ box 2
    def meeting_date_problem(self, pep: r.Pep, instants: list[datetime], what: str, *, initial: bool) -> Problem | None:
        """The meeting-date rule, and whether every date that follows from a meeting on
        that day can be worked out (when the form goes, when it is due back, when the
        record and the final PEP are due): a date needing term dates nobody loaded is
        refused to the person entering it, not left to an operator later."""
        problem = self.meetings.problem(self.meetings.place_for_pep(pep), instants, what)
        if problem is not None:
            return problem
        for instant in instants:
            try:
                send_on = self._today() if initial else local_date(self._sw_part_due(pep, instant))
                self._form_reminder_at(pep, instant, send_on)
                self._write_up_deadlines(pep, instant)
            except MissingTermDates as missing:
                where = self.store.setting(pep.setting_id).name if pep.setting_id else "the council (default term dates)"
                return Problem(
                    "no-term-dates", local_date(instant), None,
                    f"{what} {long_date(local_date(instant))} needs the term dates of {where} for "
                    f"{academic_year_label(missing.academic_year)} (to work out when the form goes and when the "
                    f"final PEP is due), and none are loaded. Ask the administrator to import them "
                    f"(pep import term-dates FILE).",
                )
        return None

    def check_meeting_dates(self, pep_id: str, dates: str, meeting_at: str | None = None, next_meeting_dates: list[str] | None = None) -> dict[str, Any]:
        """The meeting-date rule on what a person entered (``dates``: which form's dates):
        the arranged initial meeting, or the next PEP dates set at a meeting. Returns
        ``meetingDateProblem`` (a code) and the dates behind it, or nulls when all is
        well; the diagram sends the task back to the person with them."""
        pep = self.store.pep(pep_id)
        if dates == "initial-meeting":
            if not meeting_at:
                raise ValueError(f"{pep_id}: the arrange-initial-meeting form gave no meetingAt")
            problem = self.meeting_date_problem(pep, [parse_instant(meeting_at)], "The meeting date", initial=True)
        elif dates == "next-meetings":
            instants = [parse_instant(d) for d in (next_meeting_dates or [])]
            problem = self.meeting_date_problem(pep, instants, "The next PEP date", initial=False)
        else:
            raise ValueError(f"unknown dates {dates!r} in the diagram's task header 'dates'")
        if problem is None:
            return dict(NO_PROBLEM)
        self.store.record_event("pep", pep.id, "meeting-date-refused", actor=SYSTEM, details={
            "code": problem.code, "day": problem.day, "next_valid": problem.next_valid,
        })
        return problem.variables()

    def venue_of(self, pep: r.Pep, venue_code: str | None) -> str | None:
        """Where the meeting is, for people: the code's wording, the setting's name when
        it is at the setting, and the details recorded in the PEP (the records store)."""
        social = self.store.section(pep.id, PepSection.SOCIAL_WORKER) or {}
        code = venue_code or social.get("venue_code")
        if not code:
            return social.get("venue")
        return self._venue_text(pep, code, social.get("venue_details"))

    def record_venue_details(self, pep_id: str, details: str, *, actor: str) -> None:
        """The room or address of the PEP meeting, kept in the records store (never in a
        process variable); it goes into the PEP form and the notice to the PEP
        co-ordinator."""
        text = " ".join(str(details).split())
        if not text or len(text) > 200:
            raise ValueError("the venue details must be 1 to 200 characters (e.g. 'Meeting room 2')")
        pep = self.store.pep(pep_id)
        if pep.status in (PepStatus.FINAL, PepStatus.CANCELLED):
            raise ValueError(f"{pep_id} is {pep.status.value}: its meeting cannot change")
        social = self.store.section(pep_id, PepSection.SOCIAL_WORKER) or {}
        update = {**social, "venue_details": text}
        if social.get("venue_code"):
            update["venue"] = self._venue_text(pep, social["venue_code"], text)
        self.store.save_section(pep_id, PepSection.SOCIAL_WORKER, update, actor=actor)

    def _venue_text(self, pep: r.Pep, code: str, details: str | None) -> str:
        parts = [VenueCode(code).label]
        if code == VenueCode.EDUCATION_SETTING and pep.setting_id:
            parts[0] += f" ({self.store.setting(pep.setting_id).name})"
        if details:
            parts.append(details)
        return ": ".join(parts)

    async def inform_pep_coordinator(self, pep_id: str, meeting_at: str, venue_code: str, invitee_ids: list[str]) -> dict[str, Any]:
        meeting = parse_instant(meeting_at)
        VenueCode(venue_code)  # a code the form offers, or a clear failure
        pep = self.store.update_pep(pep_id, actor=SYSTEM, meeting_at=meeting, attendee_ids=list(invitee_ids or []))
        self.store.escalations.resolve(pep.id, ("initial-meeting",), "initial meeting arranged")
        social = self.store.section(pep_id, PepSection.SOCIAL_WORKER) or {}
        venue = self.venue_of(pep, venue_code)
        self.store.save_section(pep_id, PepSection.SOCIAL_WORKER, {**social, "venue_code": venue_code, "venue": venue}, actor=SYSTEM)
        await self._send(
            f"{pep.id}:initial-meeting-arranged:{iso(meeting)}", "initial-meeting-arranged", pep,
            self.store.pep_coordinator_address(),
            {
                "pep_reference": pep.id, "meeting_date": local_date(meeting),
                "meeting_time": meeting.astimezone(LONDON).strftime("%H:%M"), "venue": venue,
                "recipient_role": "pep-coordinator",
            },
        )
        return {"meetingAt": iso(meeting)}

    async def send_reminder(self, pep_id: str, reminder: str) -> dict[str, Any]:
        pep = self.store.pep(pep_id)
        stamp = self._today().isoformat()
        if reminder == "initial-meeting":
            episode = self.store.care_episode(pep.care_episode_id) if pep.care_episode_id else None
            due = self._initial_meeting_due(episode.entered_care_on) if episode else self._today()
            if due < self._today():
                # recorded after the deadline: the overdue escalation goes to the PEP
                # co-ordinator instead of a reminder that says "by" a day gone by
                self.store.record_event("pep", pep.id, "reminder-not-sent", actor=SYSTEM, details={
                    "reminder": reminder, "reason": "the initial meeting is already overdue",
                })
                return {}
            # the owner allocated today, or (nobody of the role allocated) the team manager(s)
            for person in self._acting_for(pep):
                address = r.Address(name=person.name, email=person.email, party_id=person.id, role="owner")
                await self._send(
                    f"{pep.id}:initial-meeting-reminder:{stamp}:{person.id}", "initial-meeting-reminder", pep, address,
                    {"pep_reference": pep.id, "meeting_due": due, "recipient_role": self.reader_role(address)},
                )
        elif reminder == "school-form":
            latest = self.returns.latest(pep.id)
            if latest is not None and latest.status in ("pending", "accepted"):
                # the school did return it (waiting for review, or taken in): a reminder
                # saying "not yet received" would be wrong; after a query it still goes
                self.store.record_event("pep", pep.id, "reminder-not-sent", actor=SYSTEM, details={
                    "reminder": reminder, "reason": f"the returned form {latest.id} is {latest.status}",
                })
                return {}
            meeting_day = local_date(pep.meeting_at) if pep.meeting_at else self._today()
            context = {
                "pep_reference": pep.id, "meeting_date": meeting_day,
                "return_by": self._return_by(pep, meeting_day),
            }
            for recipient in self._setting_recipients(pep):
                await self._send(
                    f"{pep.id}:pep-form-reminder:{recipient.email}", "pep-form-reminder", pep, recipient,
                    {**context, "recipient_role": self.reader_role(recipient)},
                )
        else:
            raise ValueError(f"unknown reminder {reminder!r} in the diagram's task header 'reminder'")
        return {}

    def _acting_for(self, pep: r.Pep) -> list[r.Staff]:
        """Who acts on the PEP today: the allocated owner, else the locality's team
        manager(s) (the owner's tasks are with them)."""
        assignment = assignment_for(self.store, pep.child_id, self._today())
        if assignment.staff_id:
            return [self.store.staff(assignment.staff_id)]
        group = team_manager_group(self.store, self.store.child(pep.child_id).locality)
        return [s for s in self.store.all_staff() if s.candidate_group == group]

    async def escalate_overdue(self, pep_id: str, escalation: str, raised_at: str, due_at: str | None = None) -> dict[str, Any]:
        """A wait a person owns is past its deadline: recorded (the Virtual School
        dashboard lists it until the PEP moves on) and the PEP co-ordinator told, once
        per PEP, kind and deadline."""
        what = escalation_kind(escalation)
        pep = self.store.pep(pep_id)
        if pep.status.is_closed:
            return {}  # finished or cancelled meanwhile: nothing is late
        timer = parse_instant(raised_at)
        due = parse_instant(due_at or raised_at)
        self.store.escalations.raise_(pep.id, what.code, timer, owner_staff_id=pep.owner_staff_id)
        coordinator = self.store.pep_coordinator_address()
        key = f"{pep.id}:escalation:{what.code}:{iso(timer)}"
        if what.code == "initial-meeting":
            await self._send(
                f"{pep.id}:initial-meeting-overdue", "initial-meeting-overdue", pep, coordinator,
                {"pep_reference": pep.id, "meeting_due": local_date(due),
                 "days_overdue": max(0, (self._today() - local_date(due)).days),
                 "reminded": any(m.kind == "initial-meeting-reminder" for m in self.store.mail_log(pep.id)),
                 "recipient_role": "pep-coordinator"},
            )
            return {}
        owner = self.store.staff(pep.owner_staff_id) if pep.owner_staff_id else None
        await self._send(key, "pep-escalation", pep, coordinator, {
            "pep_reference": pep.id, "what": what.what, "due_on": local_date(due),
            "who_owns": "Business support" if what.owner == "business-support" else _OWNER_LABELS[pep.owner_role],
            "owner_name": owner.name if owner and what.owner == "worker" else None,
            "next_step": what.next_step, "recipient_role": "pep-coordinator",
        })
        return {}

    # ------------------------------------------------------------------ box 3
    def schedule_pep_dates(self, pep_id: str, meeting_at: str | None, is_initial: bool) -> dict[str, Any]:
        """Dates of this term's step 3 and 4 (the rule is in docs/calendar.md)."""
        pep = self.store.pep(pep_id)
        now = self._now()
        meeting = parse_instant(meeting_at) if meeting_at else pep.meeting_at
        if meeting is None:
            raise LookupError(f"{pep_id} has no meeting date; set it at the previous PEP meeting")
        if pep.meeting_at != meeting:
            pep = self.store.update_pep(pep_id, actor=SYSTEM, meeting_at=meeting)
        calendar = self._calendar(pep.setting_id)
        settings = self.config.settings
        meeting_day = local_date(meeting)
        if is_initial:
            send = now
        else:
            send = max(now, at_local(calendar.school_weeks_before(meeting_day, settings.form_send_school_weeks)))
        prepare = now if is_initial else max(now, at_local(self.working_days.add_working_days(local_date(send), -10)))
        reminder = self._form_reminder_at(pep, meeting, local_date(send))
        sw_due = self._sw_part_due(pep, meeting) if not is_initial else at_local(self.working_days.add_working_days(local_date(now), 2), 17)
        if is_initial:
            sw_escalate = at_local(self.working_days.add_working_days(local_date(now), 1), 17)
        else:
            # N school days before the form must go, but never as the task opens
            sw_escalate = at_local(calendar.add_school_days(local_date(send), -settings.sw_part_escalation_school_days), 17)
            sw_escalate = max(sw_escalate, at_local(self.working_days.add_working_days(local_date(prepare), 2), 17))
            sw_escalate = min(sw_escalate, sw_due)
        self._advance_status(pep_id, PepStatus.IN_PROGRESS)
        return {
            "meetingAt": iso(meeting), "prepareFromAt": iso(prepare), "formSendAt": iso(send),
            "formReminderAt": iso(reminder), "swPartDueAt": iso(sw_due), "swPartEscalateAt": iso(sw_escalate),
            **self._write_up_deadlines(pep, meeting),
            "formAlreadyReturned": self._form_returned(pep),
            # refreshed each term: the record-pep-meeting form's attendee list
            "contactOptions": contact_options(self.store, pep.child_id, pep.setting_id),
            # and the cycle's forms start empty, not with last term's answers
            **CYCLE_FORMS_CLEARED,
        }

    def _sw_part_due(self, pep: r.Pep, meeting: datetime) -> datetime:
        """The social worker's part is due when the form must go: three school weeks
        before the meeting (never before now)."""
        calendar = self._calendar(pep.setting_id)
        weeks = self.config.settings.form_send_school_weeks
        return max(self._now(), at_local(calendar.school_weeks_before(local_date(meeting), weeks)))

    def _write_up_deadlines(self, pep: r.Pep, meeting: datetime) -> dict[str, str]:
        """When the meeting must be recorded (working days after it) and the PEP be final
        (the council's standard, school days after it; working days with no setting)."""
        settings = self.config.settings
        day = local_date(meeting)
        record_by = self.working_days.add_working_days(day, settings.meeting_record_working_days)
        if pep.variant == Variant.EARLY_YEARS_NO_SETTING or not pep.setting_id:
            final_by = self.working_days.add_working_days(day, settings.finalise_school_days)
        else:
            final_by = self._calendar(pep.setting_id).add_school_days(day, settings.finalise_school_days)
        # follow up: the end of the meeting's day (record it while it is fresh), and a
        # working week before the PEP must be final
        final_follow_up = max(self.working_days.add_working_days(final_by, -5), day)
        return {"meetingRecordDueAt": iso(at_local(max(record_by, day), 17)), "finaliseDueAt": iso(at_local(final_by, 17)),
                "meetingRecordFollowUpAt": iso(max(at_local(day, 17), meeting)),
                "finaliseFollowUpAt": iso(at_local(final_follow_up, 9))}

    # ------------------------------------------------------------------ box 4
    @property
    def returns(self):
        """Returned forms read, flagged, reviewed and merged (:mod:`pepflow.school_returns`)."""
        from .school_returns import SchoolReturns

        return SchoolReturns(self)

    def receive_school_form(self, pep_id: str, data: bytes, *, actor: str, accept: bool = False) -> dict[str, Any]:
        """Check a returned Word form, keep it and read it; raise ``DocumentRejected``
        (nothing kept) when it is broken, hostile, or the form of another PEP, and
        ``ReturnRefused`` when the PEP is final or cancelled. A return with nothing
        flagged is taken in at once; else it waits for review (``accept``: the person
        taking it in accepts it as read, recorded as theirs)."""
        report = self.returns.receive(pep_id, data, actor=actor)
        if accept and report.status == "pending":
            report = self.returns.accept(report.return_id, actor=actor)
        document_id = self.store.returns.get(report.return_id).document_id
        return {
            "returnedDocumentId": document_id, "schoolReturnId": report.return_id, "report": report,
            "missingFields": [f.field for f in report.findings if f.field and not f.text and f.kind == "outside-answers"],
            "invalidFields": {f.field: f.text for f in report.findings if f.kind == "unparsed" and f.field},
        }

    def take_in_school_form(self, pep_id: str, school_return_id: int | None = None) -> dict[str, Any]:
        """The process reaches a returned form: taken in when it was accepted (nothing
        flagged, or accepted when it came), else business support reviews it."""
        stored = self.store.returns.get(school_return_id) if school_return_id else self.returns.latest(pep_id)
        if stored is not None and stored.status == "pending":
            report = self.returns.report(stored.id)
            return {
                "schoolReturnId": stored.id, "returnNeedsReview": True, "returnFlagCount": report.flag_count,
                "returnChangeCount": len(report.changes), **REVIEW_FORM_CLEARED,
            }
        self._advance_status(pep_id, PepStatus.FORM_SENT, PepStatus.FORM_RETURNED, form_returned_at=self._now())
        return {"returnNeedsReview": False, **({"schoolReturnId": stored.id} if stored is not None else {})}

    async def decide_school_return(self, pep_id: str, school_return_id: int, decision: str, reason_code: str | None) -> dict[str, Any]:
        """After the review: take the form in (accepted), or mail the school the query
        and wait for their next return."""
        accepted = await asyncio.to_thread(self.returns.decide_in_process, school_return_id, decision, reason_code)
        if accepted:
            await asyncio.to_thread(self._advance_status, pep_id, PepStatus.FORM_SENT, PepStatus.FORM_RETURNED, form_returned_at=self._now())
        else:
            await self.returns.send_query(school_return_id)
        return {"returnAccepted": accepted}

    # ------------------------------------------------------------------ box 5
    def record_pep_meeting(self, pep_id: str, attendee_ids: list[str], next_meeting_dates: list[str] | None) -> dict[str, Any]:
        """Box 5: the meeting was held. The next PEP dates must be valid meeting days
        (else the task goes back to the worker with the reason); the record is kept and
        the PEP is ``meeting-held``."""
        pep = self.store.pep(pep_id)
        if pep.status.is_closed:
            return dict(NO_PROBLEM)  # a retried job after the PEP moved on
        dates = [parse_instant(d) for d in (next_meeting_dates or [])]
        problem = self.meeting_date_problem(pep, dates, "The next PEP date", initial=False)
        if problem is not None:
            self.store.record_event("pep", pep.id, "meeting-date-refused", actor=SYSTEM, details={
                "code": problem.code, "day": problem.day, "next_valid": problem.next_valid,
            })
            return problem.variables()
        with self.store.atomic():
            self._advance_status(pep_id, PepStatus.MEETING_HELD, attendee_ids=list(attendee_ids or []))
            self.store.save_section(pep.id, PepSection.MEETING_RECORD, self._meeting_record(pep, attendee_ids, next_meeting_dates).model_dump(mode="json"), actor=SYSTEM)
        self.store.escalations.resolve(pep.id, ("meeting-not-recorded",), "meeting recorded")
        return dict(NO_PROBLEM)

    def _meeting_record(self, pep: r.Pep, attendee_ids: list[str] | None, next_meeting_dates: list[str] | None) -> MeetingRecord:
        dates = [parse_instant(d) for d in (next_meeting_dates or [])]
        return meeting_record(self.store, pep, attendee_ids, dates, self._today())

    def update_pep_status(self, pep_id: str, status: str, return_reason: str | None = None) -> dict[str, Any]:
        """Box 6: typed up, or sent back for changes (the status a caseworker sees; the
        reason for sending it back is kept with the PEP's history).

        Each also empties the form that comes next, which Tasklist fills from the
        process variables: sent back, "Type up PEP" opens with its box unticked (and
        shows the reason); typed up, "Check and finalise PEP" opens with no answer
        chosen - never the last round's."""
        target = PepStatus(status)
        if target not in (PepStatus.TYPED_UP, PepStatus.RETURNED_FOR_CHANGES):
            raise ValueError(f"the diagram may set typed-up or returned-for-changes, not {status!r}")
        cleared = TYPE_UP_FORM_CLEARED if target == PepStatus.RETURNED_FOR_CHANGES else FINALISE_FORM_CLEARED
        pep = self.store.pep(pep_id)
        if pep.status.is_closed or pep.status == target:
            return dict(cleared)  # a retried job
        with self.store.atomic():
            self._advance_status(pep_id, PepStatus.MEETING_HELD, target)
            if target == PepStatus.RETURNED_FOR_CHANGES:
                self.store.record_event("pep", pep_id, "returned-for-changes", actor=SYSTEM, details={
                    "reason": return_reason or "no reason given",
                })
        return dict(cleared)

    # ------------------------------------------------------------------ box 6
    def generate_final_pep(self, pep_id: str, attendee_ids: list[str], next_meeting_dates: list[str] | None,
                           purpose: str | None = None) -> dict[str, Any]:
        """Render and keep the final PEP (and its PDF copy). With a ``purpose`` (the
        step's element instance) it is made once, whatever the retries: a step that made
        it and failed before the job completed finds it when it runs again."""
        current = self.store.pep(pep_id)
        made = self.store.document_for(pep_id, DocumentKind.FINAL, purpose) if purpose is not None else None
        if made is not None:
            if self.config.final_pdf and self.store.document_for(pep_id, DocumentKind.FINAL_PDF, purpose) is None:
                # set again from the records the final PEP was made from (its school part and meeting record)
                self._keep_document(current, DocumentKind.FINAL_PDF, self.pdf.render(
                    self._identity(current), self._content(current),
                    SchoolReturn.model_validate(self.store.section(pep_id, PepSection.SCHOOL_RETURN) or {}),
                    MeetingRecord.model_validate(self.store.section(pep_id, PepSection.MEETING_RECORD) or {}),
                    made.version, council_name=self.config.council_name, finalised_on=local_date(made.created_at),
                    finalised_by=finalised_by(self.store, current)), purpose)
            if current.status != PepStatus.FINAL:
                self._advance_status(pep_id, PepStatus.FINAL, finalised_at=self._now())
                self.store.escalations.resolve(pep_id, None, "PEP final")
            return {"finalDocumentId": made.id}
        if current.status == PepStatus.FINAL:  # a retried job: the final PEP exists and never changes
            document = self.store.latest_document(pep_id, DocumentKind.FINAL)
            return {"finalDocumentId": document.id if document else None}
        pep = self._advance_status(pep_id, PepStatus.MEETING_HELD, PepStatus.TYPED_UP, attendee_ids=list(attendee_ids or []))
        school = self.store.section(pep.id, PepSection.SCHOOL_RETURN) or {}
        meeting = self._meeting_record(pep, attendee_ids, next_meeting_dates)
        self.store.save_section(pep.id, PepSection.MEETING_RECORD, meeting.model_dump(mode="json"), actor=SYSTEM)
        version = len(self.store.documents(pep.id, DocumentKind.FINAL)) + 1
        final = (self._identity(pep), self._content(pep), SchoolReturn.model_validate(school), meeting, version)
        made_by = dict(council_name=self.config.council_name, finalised_on=self._today(),
                       finalised_by=finalised_by(self.store, pep))
        data = render_final_pep(*final, **made_by)
        # the PDF first, from the same outline: one that fails (the job is retried) keeps no half-made version
        pdf = self.pdf.render(*final, **made_by) if self.config.final_pdf else None
        document = self._keep_document(pep, DocumentKind.FINAL, data, purpose)
        if pdf is not None:
            self._keep_document(pep, DocumentKind.FINAL_PDF, pdf, purpose)
        self._advance_status(pep_id, PepStatus.FINAL, finalised_at=self._now())
        self.store.escalations.resolve(pep.id, None, "PEP final")
        return {"finalDocumentId": document.id}

    # ------------------------------------------------------------------ box 7
    def complete_pep(self, pep_id: str, next_meeting_dates: list[str] | None) -> dict[str, Any]:
        """Close this term's PEP and open the next one at the date set in box 5: a new
        record, even in the same term (a final PEP never changes)."""
        pep = self._advance_status(pep_id, PepStatus.FINAL)
        child = self.store.child(pep.child_id)
        today = self._today()
        dates = sorted(parse_instant(d) for d in (next_meeting_dates or []))
        upcoming = [d for d in dates if local_date(d) > today]
        calendar = self._calendar(pep.setting_id)
        if upcoming:
            meeting = upcoming[0]
        else:  # nobody set a date: three school weeks into next term, on a valid day
            _year, term = calendar.next_term(today)
            day = self.meetings.first_valid(self.meetings.place_for_pep(pep), calendar.add_school_days(term.starts_on, 15))
            meeting = at_local(day, self.config.meeting_hour)
        settings = self.config.settings
        if aged_out(child.date_of_birth, local_date(meeting), settings.age_limit, settings.age_out_rule):
            return {"agedOut": True}
        following = self._open_pep(pep.child_id)
        if following is None:
            year, term = self._term_for(calendar, local_date(meeting))
            following = self.store.create_pep(
                pep.child_id, year, term, actor=SYSTEM, on=local_date(meeting), meeting_at=meeting,
                care_episode_id=pep.care_episode_id,
            )
        return {**self._pep_variables(following), "meetingAt": iso(following.meeting_at or meeting), "agedOut": False}

    # ------------------------------------------------------------------ changes
    def schedule_setting_change_pep(self, child_id: str, pep_id: str | None, setting_changed_on: str) -> dict[str, Any]:
        """A change of education setting: a PEP at the new setting within 10 working days
        (statutory guidance). Read from the facts, whenever the process gets here: the
        child's setting now, and their open PEP. An open PEP already for that setting
        stands; any other open PEP is cancelled (the PEP co-ordinator is told when its
        meeting was arranged) and a new one is opened, its meeting on the last school
        day at the new setting by the deadline (the first one after it when the school
        is closed until then, and the PEP records why)."""
        changed_on = date.fromisoformat(setting_changed_on)
        today = self._today()
        setting = self.store.setting_for(child_id, max(changed_on, today))
        current = self._open_pep(child_id)
        if current is not None and setting is not None and current.setting_id == setting.id:
            meeting = current.meeting_at
            if meeting is None:
                due = setting_change_pep_due(changed_on, self.config.settings.setting_change_pep_working_days, self.working_days)
                day, _in_time = self.meetings.by_deadline(self.meetings.place_for_pep(current), due)
                current = self.store.update_pep(current.id, actor=SYSTEM, meeting_at=at_local(day, self.config.meeting_hour))
            return {**self._pep_variables(current), "meetingAt": iso(current.meeting_at)}
        if current is not None:
            self._cancel_pep(current, "change-of-school")
        due = setting_change_pep_due(changed_on, self.config.settings.setting_change_pep_working_days, self.working_days)
        place = self.meetings.place(setting.id if setting else None)
        day, in_time = self.meetings.by_deadline(place, due)
        meeting = at_local(day, self.config.meeting_hour)
        calendar = self._calendar(setting.id if setting else None)
        year, term = self._term_for(calendar, day)
        pep = self.store.create_pep(
            child_id, year, term, actor=SYSTEM, is_initial=True, on=max(changed_on, today), meeting_at=meeting,
            setting_id=setting.id if setting else None,
        )
        if not in_time:
            self.store.record_event("pep", pep.id, "meeting-after-statutory-deadline", actor=SYSTEM, details={
                "deadline": due, "meeting_on": day,
                "reason": "the new setting is closed on every day up to the deadline",
            })
        return {**self._pep_variables(pep), "meetingAt": iso(meeting)}

    def _cancel_pep(self, pep: r.Pep, reason: str) -> None:
        """Cancel an open PEP (never a final one), close its escalations, and withdraw
        the mail it still had queued."""
        if pep.status.is_closed:
            return
        self.store.update_pep(pep.id, actor=SYSTEM, status=PepStatus.CANCELLED)
        self.store.record_event("pep", pep.id, "cancel-reason", actor=SYSTEM, details={"reason": reason})
        self.store.escalations.resolve(pep.id, None, f"PEP cancelled ({reason})")
        self.store.withdraw_queued_mail([pep.id], reason=f"PEP cancelled ({reason})", actor=SYSTEM)

    def close_pep_case(self, child_id: str, pep_id: str | None, left_care_on: str, reason: str | None = None) -> dict[str, Any]:
        """The child left care: the open PEP is cancelled, nothing queued for the child
        goes out any more, and the care episode is closed (the council event closed it
        already, with its reason; this keeps that)."""
        left = date.fromisoformat(left_care_on)
        for pep in self.store.peps_for(child_id):
            if not pep.status.is_closed:
                self._cancel_pep(pep, "left-care")
        self.store.withdraw_queued_mail([p.id for p in self.store.peps_for(child_id)], reason="the child left care", actor=SYSTEM)
        episode = self.store.current_care_episode(child_id)
        if episode is not None:
            self.store.close_care_episode(episode.id, left, reason.value, actor=SYSTEM)
        return {}
