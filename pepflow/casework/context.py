"""The one context the casework stages share: the services, the clock and settings,
and the helpers every stage uses (the PEP's process variables, its status path, its
documents)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ..calendar import SchoolCalendar, WorkingDays, academic_year_label, academic_year_of
from ..clock import Clock
from ..documents import MeetingRecord, PepFormContent, PepIdentity
from ..documents.final_pdf import FinalPdf
from ..documents.protected_copies import ProtectedCopies
from ..documents.spin_pool import DocumentPool
from ..domain.enums import DocumentKind, PepStatus, Variant
from ..domain.rules import initial_meeting_due
from ..mail.outbox import OutboxSender
from ..mail.transport import Mailer
from ..meeting_options import contact_options
from ..meetings import MeetingDates
from ..ownership import assignment_for
from ..pep_content import form_content, meeting_record
from ..store import RecordsStore
from ..store import records as r
from .base import SYSTEM, CaseworkConfig, local_date, parse_instant
from .deadlines import Deadlines
from .secure_mail import SecureMail

_TERM_CODES = {"autumn": "Autumn", "spring": "Spring", "summer": "Summer"}


class CaseContext:
    """Services and settings of one casework, and what every stage does with them.

    ``config`` is read at each use, so a changed configuration reaches every stage."""

    def __init__(self, store: RecordsStore, mailer: Mailer, clock: Clock, config: CaseworkConfig | None = None, *, sender: OutboxSender | None = None, pdf: FinalPdf | None = None, spins: DocumentPool | None = None) -> None:
        self.store = store
        self.mailer = mailer
        self.clock = clock
        self.config = config or CaseworkConfig()
        # the composition root owns its final-PDF renderer (Typst); else one of its own
        self.pdf = pdf if pdf is not None else FinalPdf()
        self.working_days = WorkingDays()
        self.meetings = MeetingDates(store, clock, self.working_days)
        # a version's protected copy, made once for all its recipients
        self.protected = ProtectedCopies()
        # where the password spins and the python-docx work (forms, final PEPs, read-backs)
        # run: the composition root's worker processes, else this process
        self.spins = spins if spins is not None else DocumentPool(0)
        # Steps only queue mail (``mail.queue``); a sender delivers it. The composition
        # root runs its own sender alongside the workers and passes it in. Without one (a
        # bare worker, the process tests), the mail workers ask this sender to deliver
        # what is due right after their step (see ``workers/mail.py``).
        self.sender = sender if sender is not None else OutboxSender(store, mailer)
        self.deliver_after_steps = sender is None
        self.mail = SecureMail(self)
        self.deadlines = Deadlines(self)

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return local_date(self.now())

    def calendar(self, setting_id: str | None) -> SchoolCalendar:
        return self.store.school_calendar_for(setting_id)

    def term_for(self, calendar: SchoolCalendar, day: date) -> tuple[int, str]:
        term = calendar.term_of(day)
        if term is not None:
            return academic_year_of(term.starts_on), term.name
        year, term = calendar.next_term(day)
        return year, term.name

    def pep_variables(self, pep: r.Pep) -> dict[str, Any]:
        child = self.store.child(pep.child_id)
        assignment = assignment_for(self.store, pep.child_id, self.today())
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

    def open_pep(self, child_id: str) -> r.Pep | None:
        """The child's open PEP (a retried job finds what its first run opened). A final
        PEP is never reused, whatever its term: the next PEP is a new record."""
        return self.store.open_pep(child_id)

    def initial_meeting_due(self, entered: date) -> date:
        settings = self.config.settings
        return initial_meeting_due(
            entered, settings.initial_meeting_days, settings.initial_meeting_day_kind, self.working_days,
            review_working_days=settings.initial_cla_review_working_days,
        )

    def advance_status(self, pep_id: str, *targets: PepStatus, **changes: Any) -> r.Pep:
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

    def mark_form_returned(self, pep_id: str) -> r.Pep:
        """The school's form is taken in: status form-returned, and the moment it first
        was. A later return taken in (a second form, or one accepted on the review list
        before the process reached it) keeps that moment; each return has its own in
        the returns table and the audit."""
        pep = self.store.pep(pep_id)
        first = {} if pep.form_returned_at is not None else {"form_returned_at": self.now()}
        return self.advance_status(pep_id, PepStatus.FORM_SENT, PepStatus.FORM_RETURNED, **first)

    def identity(self, pep: r.Pep) -> PepIdentity:
        return PepIdentity(
            pep_reference=pep.id,
            child_id=pep.child_id,
            term=f"{_TERM_CODES[pep.term.value]} {pep.academic_year if pep.term.value == 'autumn' else pep.academic_year + 1}",
            academic_year=academic_year_label(pep.academic_year),
        )

    def content(self, pep: r.Pep) -> PepFormContent:
        return form_content(self.store, pep, self.today())

    def keep_document(self, pep: r.Pep, kind: DocumentKind, data: bytes, purpose: str | None = None) -> r.DocumentVersion:
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

    def meeting_record(self, pep: r.Pep, attendee_ids: list[str] | None, next_meeting_dates: list[str] | None) -> MeetingRecord:
        dates = [parse_instant(d) for d in (next_meeting_dates or [])]
        return meeting_record(self.store, pep, attendee_ids, dates, self.today())


class Stage:
    """A stage of the flowchart: its steps over the shared context."""

    def __init__(self, ctx: CaseContext) -> None:
        self.ctx = ctx
