"""Boxes 6 and 7 of the flowchart: the final PEP made (with its PDF copy), and the
term's PEP completed with the next one opened, or the cycle ended as the young person
ages out. Distribution to the attendees is ``send_secure_email`` (template final-pep).

An approved PEP is not made final while a form returned for it waits for business
support's review (:meth:`FinalPepStage.finalise_problem`): its answers are not in the
PEP yet, and a final PEP never changes."""

from __future__ import annotations

from typing import Any

from ..documents import MeetingRecord, SchoolReturn, render_final_pep
from ..domain.enums import DocumentKind, PepSection, PepStatus
from ..domain.meeting_dates import long_date
from ..domain.rules import aged_out
from ..pep_content import finalised_by
from .base import SYSTEM, at_local, iso, local_date, parse_instant
from .context import Stage

#: ``finaliseHeldReason``: the PEP was approved while a returned form waited for review
RETURN_AWAITS_REVIEW = "returned-form-awaits-review"


class FinalPepStage(Stage):
    def finalise_problem(self, pep_id: str) -> str | None:
        """Why the PEP may not be made final now, in words for the person finalising it,
        or None. Dates and how many, never what the school wrote."""
        waiting = self.ctx.store.returns.pending_for(pep_id)
        if not waiting:
            return None
        days = ", ".join(long_date(local_date(stored.received_at)) for stored in waiting)
        which = f"A form returned for this PEP on {days} waits" if len(waiting) == 1 else (
            f"{len(waiting)} forms returned for this PEP (on {days}) wait")
        return (f"{which} for business support's review: its answers are not in the PEP yet, and a "
                f"final PEP cannot be changed. Ask business support to review it (Returned forms), "
                f"then finalise the PEP; or return the PEP for changes.")

    def check_finalise(self, pep_id: str) -> dict[str, Any]:
        """The step after an approved "Check and finalise PEP" (Camunda 8's Tasklist
        completes the task without the product's own check): while a returned form waits
        for review the task goes back to the person, with ``finaliseHeldReason`` and no
        answer chosen, and the hold is kept in the PEP's history."""
        pep = self.ctx.store.pep(pep_id)
        waiting = [] if pep.status.is_closed else self.ctx.store.returns.pending_for(pep_id)
        if not waiting:  # (closed: a retried job after the PEP moved on)
            return {"finaliseHeldReason": None}
        self.ctx.store.record_event("pep", pep_id, "finalise-held", actor=SYSTEM, details={
            "code": RETURN_AWAITS_REVIEW, "school_return_ids": [stored.id for stored in waiting],
        })
        return {"finaliseHeldReason": RETURN_AWAITS_REVIEW, "pepApproved": None}

    def generate_final_pep(self, pep_id: str, attendee_ids: list[str], next_meeting_dates: list[str] | None,
                           purpose: str | None = None) -> dict[str, Any]:
        """Render and keep the final PEP (and its PDF copy). With a ``purpose`` (the
        step's element instance) it is made once, whatever the retries: a step that made
        it and failed before the job completed finds it when it runs again."""
        current = self.ctx.store.pep(pep_id)
        made = self.ctx.store.document_for(pep_id, DocumentKind.FINAL, purpose) if purpose is not None else None
        if made is not None:
            if self.ctx.config.final_pdf and self.ctx.store.document_for(pep_id, DocumentKind.FINAL_PDF, purpose) is None:
                # set again from the records the final PEP was made from (its school part and meeting record)
                self.ctx.keep_document(current, DocumentKind.FINAL_PDF, self.ctx.pdf.render(
                    self.ctx.identity(current), self.ctx.content(current),
                    SchoolReturn.model_validate(self.ctx.store.section(pep_id, PepSection.SCHOOL_RETURN) or {}),
                    MeetingRecord.model_validate(self.ctx.store.section(pep_id, PepSection.MEETING_RECORD) or {}),
                    made.version, council_name=self.ctx.config.council_name, finalised_on=local_date(made.created_at),
                    finalised_by=finalised_by(self.ctx.store, current)), purpose)
            if current.status != PepStatus.FINAL:
                self.ctx.advance_status(pep_id, PepStatus.FINAL, finalised_at=self.ctx.now())
                self.ctx.store.escalations.resolve(pep_id, None, "PEP final")
            return {"finalDocumentId": made.id}
        if current.status == PepStatus.FINAL:  # a retried job: the final PEP exists and never changes
            document = self.ctx.store.latest_document(pep_id, DocumentKind.FINAL)
            return {"finalDocumentId": document.id if document else None}
        pep = self.ctx.advance_status(pep_id, PepStatus.MEETING_HELD, PepStatus.TYPED_UP, attendee_ids=list(attendee_ids or []))
        school = self.ctx.store.section(pep.id, PepSection.SCHOOL_RETURN) or {}
        meeting = self.ctx.meeting_record(pep, attendee_ids, next_meeting_dates)
        self.ctx.store.save_section(pep.id, PepSection.MEETING_RECORD, meeting.model_dump(mode="json"), actor=SYSTEM)
        version = len(self.ctx.store.documents(pep.id, DocumentKind.FINAL)) + 1
        final = (self.ctx.identity(pep), self.ctx.content(pep), SchoolReturn.model_validate(school), meeting, version)
        made_by = dict(council_name=self.ctx.config.council_name, finalised_on=self.ctx.today(),
                       finalised_by=finalised_by(self.ctx.store, pep))
        data = self.ctx.spins.run(render_final_pep, *final, **made_by)  # in a document worker process if any
        # the PDF first, from the same outline: one that fails (the job is retried) keeps no half-made version
        pdf = self.ctx.pdf.render(*final, **made_by) if self.ctx.config.final_pdf else None
        document = self.ctx.keep_document(pep, DocumentKind.FINAL, data, purpose)
        if pdf is not None:
            self.ctx.keep_document(pep, DocumentKind.FINAL_PDF, pdf, purpose)
        self.ctx.advance_status(pep_id, PepStatus.FINAL, finalised_at=self.ctx.now())
        self.ctx.store.escalations.resolve(pep.id, None, "PEP final")
        return {"finalDocumentId": document.id}

    def complete_pep(self, pep_id: str, next_meeting_dates: list[str] | None) -> dict[str, Any]:
        """Close this term's PEP and open the next one at the date set in box 5: a new
        record, even in the same term (a final PEP never changes)."""
        pep = self.ctx.advance_status(pep_id, PepStatus.FINAL)
        child = self.ctx.store.child(pep.child_id)
        today = self.ctx.today()
        dates = sorted(parse_instant(d) for d in (next_meeting_dates or []))
        upcoming = [d for d in dates if local_date(d) > today]
        calendar = self.ctx.calendar(pep.setting_id)
        if upcoming:
            meeting = upcoming[0]
        else:  # nobody set a date: three school weeks into next term, on a valid day
            _year, term = calendar.next_term(today)
            day = self.ctx.meetings.first_valid(self.ctx.meetings.place_for_pep(pep), calendar.add_school_days(term.starts_on, 15))
            meeting = at_local(day, self.ctx.config.meeting_hour)
        settings = self.ctx.config.settings
        if aged_out(child.date_of_birth, local_date(meeting), settings.age_limit, settings.age_out_rule):
            return {"agedOut": True}
        following = self.ctx.open_pep(pep.child_id)
        if following is None:
            year, term = self.ctx.term_for(calendar, local_date(meeting))
            following = self.ctx.store.create_pep(
                pep.child_id, year, term, actor=SYSTEM, on=local_date(meeting), meeting_at=meeting,
                care_episode_id=pep.care_episode_id,
            )
        return {**self.ctx.pep_variables(following), "meetingAt": iso(following.meeting_at or meeting), "agedOut": False}
