"""Boxes 3 and 4 of the flowchart: the term's dates, the PEP form made and sent
securely to the setting (or the Health Visitor and carers), the reminders, and the
school's returned form taken in, reviewed and decided."""

from __future__ import annotations

import asyncio
from typing import Any

from ..documents import render_pep_form
from ..domain.enums import DocumentKind, PepStatus, Variant
from ..meeting_options import contact_options
from ..ownership import assignment_for, team_manager_group
from ..store import records as r
from ..store.returns import ACCEPTED, PENDING, QUERIED, WITHDRAWN
from .base import SYSTEM, at_local, iso, local_date, parse_instant
from .context import Stage

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


class TermlyFormStage(Stage):
    def schedule_pep_dates(self, pep_id: str, meeting_at: str | None, is_initial: bool) -> dict[str, Any]:
        """Dates of this term's step 3 and 4 (the rule is in docs/calendar.md)."""
        pep = self.ctx.store.pep(pep_id)
        now = self.ctx.now()
        meeting = parse_instant(meeting_at) if meeting_at else pep.meeting_at
        if meeting is None:
            raise LookupError(f"{pep_id} has no meeting date; set it at the previous PEP meeting")
        if pep.meeting_at != meeting:
            pep = self.ctx.store.update_pep(pep_id, actor=SYSTEM, meeting_at=meeting)
        calendar = self.ctx.calendar(pep.setting_id)
        settings = self.ctx.config.settings
        meeting_day = local_date(meeting)
        if is_initial:
            send = now
        else:
            send = max(now, at_local(calendar.school_weeks_before(meeting_day, settings.form_send_school_weeks)))
        prepare = now if is_initial else max(now, at_local(self.ctx.working_days.add_working_days(local_date(send), -10)))
        # the setting's calendar read once above serves every deadline below
        reminder = self.ctx.deadlines.form_reminder_at(pep, meeting, local_date(send), calendar)
        sw_due = self.ctx.deadlines.sw_part_due(pep, meeting, calendar) if not is_initial else at_local(self.ctx.working_days.add_working_days(local_date(now), 2), 17)
        if is_initial:
            sw_escalate = at_local(self.ctx.working_days.add_working_days(local_date(now), 1), 17)
        else:
            # N school days before the form must go, but never as the task opens
            sw_escalate = at_local(calendar.add_school_days(local_date(send), -settings.sw_part_escalation_school_days), 17)
            sw_escalate = max(sw_escalate, at_local(self.ctx.working_days.add_working_days(local_date(prepare), 2), 17))
            sw_escalate = min(sw_escalate, sw_due)
        self.ctx.advance_status(pep_id, PepStatus.IN_PROGRESS)
        return {
            "meetingAt": iso(meeting), "prepareFromAt": iso(prepare), "formSendAt": iso(send),
            "formReminderAt": iso(reminder), "swPartDueAt": iso(sw_due), "swPartEscalateAt": iso(sw_escalate),
            **self.ctx.deadlines.write_up_deadlines(pep, meeting, calendar),
            "formAlreadyReturned": self._form_returned(pep),
            # refreshed each term: the record-pep-meeting form's attendee list
            "contactOptions": contact_options(self.ctx.store, pep.child_id, pep.setting_id),
            # and the cycle's forms start empty, not with last term's answers
            **CYCLE_FORMS_CLEARED,
        }

    def _form_returned(self, pep: r.Pep) -> bool:
        """Whether the school (or health visitor) has already returned a form for this
        PEP: an early return is a fact the process reads here, so nobody is asked for
        a form they already sent."""
        return pep.form_returned_at is not None or bool(self.ctx.store.documents(pep.id, DocumentKind.RETURNED))

    def _initial_form_sent(self, pep: r.Pep) -> r.DocumentVersion | None:
        """The form an initial PEP sent at entry (``SendInitialPepTask``), if it went."""
        if not pep.is_initial or pep.form_sent_at is None:
            return None
        return self.ctx.store.latest_document(pep.id, DocumentKind.FORM)

    def generate_pep_form(self, pep_id: str, purpose: str | None = None) -> dict[str, Any]:
        """Render and keep the PEP's Word form. With a ``purpose`` (the step's element
        instance) it is made once: run again after a crash, the step finds it."""
        pep = self.ctx.store.pep(pep_id)
        self.ctx.store.escalations.resolve(pep.id, ("social-worker-part",), "social worker's part done")
        if self._form_returned(pep):
            return {"formAlreadyReturned": True}
        if purpose is not None:
            made = self.ctx.store.document_for(pep.id, DocumentKind.FORM, purpose)
            if made is not None:
                return {"formDocumentId": made.id, "formAlreadyReturned": False}
        sent = self._initial_form_sent(pep)
        if sent is not None:
            # an initial PEP's form went to the setting at entry: the school has one
            # form for this PEP, never a second version to fill. Box 3 asks for that
            # same file back by a date (same version, same password); the worker's
            # part goes into the final PEP from the records
            return {"formDocumentId": sent.id, "formAlreadyReturned": False}
        data = self.ctx.spins.run(  # python-docx work: in a document worker process when there is one
            render_pep_form, self.ctx.identity(pep), self.ctx.content(pep), self.ctx.config.document_secret,
            council_name=self.ctx.config.council_name, issued_on=self.ctx.today(),
        )
        document = self.ctx.keep_document(pep, DocumentKind.FORM, data, purpose)
        return {"formDocumentId": document.id, "formAlreadyReturned": False}

    async def send_secure_email(self, pep_id: str, template: str, to: str, attendee_id: str | None = None) -> dict[str, Any]:
        pep = self.ctx.store.pep(pep_id)
        if to == "setting":
            recipients = self.ctx.mail.setting_recipients(pep)
        elif to == "attendee":
            if not attendee_id:
                raise LookupError(f"{pep_id}: sending to an attendee needs attendeeId")
            recipients = [self.ctx.store.address_for(attendee_id)]
        else:
            raise ValueError(f"unknown recipient kind {to!r} in the diagram's task header 'to'")
        if template == "pep-form" and self._form_returned(pep):
            # returned before it was sent (an initial PEP's school answered the form
            # sent at entry): take it in, never ask again
            self.ctx.store.escalations.resolve(pep.id, ("form-not-sent",), "form already returned")
            latest = self.returns.latest(pep.id)
            if latest is not None and latest.status != ACCEPTED:
                # ... unless it waits for business support's review (something flagged):
                # then the process waits for it as for a form returned on time. The
                # engine kept the return's message, so it is taken in at once and the
                # review task is made; skipped, the school's answers never reached the
                # PEP and nobody was asked to look at them. Business support asked the
                # school again (or withdrew it): the process waits for the next return,
                # and the reminder goes if it does not come
                return {"formAlreadyReturned": False}
            self.ctx.mark_form_returned(pep_id)
            return {"formAlreadyReturned": True}
        kind = template
        if template == "pep-form" and pep.variant == Variant.EARLY_YEARS_NO_SETTING:
            kind = "pep-form-health-visitor"
        meeting_day = local_date(pep.meeting_at) if pep.meeting_at else self.ctx.today()
        if template == "final-pep":
            document_kind = DocumentKind.FINAL
            context = {"pep_reference": pep.id, "meeting_date": meeting_day}
        elif template == "initial-pep":
            document_kind = DocumentKind.FORM
            episode = self.ctx.store.care_episode(pep.care_episode_id) if pep.care_episode_id else None
            due = self.ctx.initial_meeting_due(episode.entered_care_on) if episode else meeting_day
            context = {"pep_reference": pep.id, "meeting_due": due}
        else:
            document_kind = DocumentKind.FORM
            return_by = self.ctx.deadlines.return_by(pep, meeting_day)
            context = {
                "pep_reference": pep.id, "meeting_date": meeting_day, "return_by": return_by,
                "on_behalf_of": "the locality business support officer",
            }
        await self.ctx.mail.send_protected(pep, template, kind, document_kind, recipients, context)
        if template in ("pep-form", "initial-pep"):
            self.ctx.advance_status(pep_id, PepStatus.FORM_SENT, form_sent_at=pep.form_sent_at or self.ctx.now())
        if template == "pep-form":
            self.ctx.store.escalations.resolve(pep.id, ("form-not-sent",), "form sent")
            if pep.meeting_at is not None:
                # due back and reminder count from when the form really went (an
                # initial PEP's form waits for the social worker's part)
                return {
                    "formReminderAt": iso(self.ctx.deadlines.form_reminder_at(pep, pep.meeting_at, self.ctx.today())),
                    "formAlreadyReturned": False,
                }
            return {"formAlreadyReturned": False}
        return {}

    async def send_reminder(self, pep_id: str, reminder: str) -> dict[str, Any]:
        pep = self.ctx.store.pep(pep_id)
        stamp = self.ctx.today().isoformat()
        if reminder == "initial-meeting":
            episode = self.ctx.store.care_episode(pep.care_episode_id) if pep.care_episode_id else None
            due = self.ctx.initial_meeting_due(episode.entered_care_on) if episode else self.ctx.today()
            if due < self.ctx.today():
                # recorded after the deadline: the overdue escalation goes to the PEP
                # co-ordinator instead of a reminder that says "by" a day gone by
                self.ctx.store.record_event("pep", pep.id, "reminder-not-sent", actor=SYSTEM, details={
                    "reminder": reminder, "reason": "the initial meeting is already overdue",
                })
                return {}
            # the owner allocated today, or (nobody of the role allocated) the team manager(s)
            for person in self._acting_for(pep):
                address = r.Address(name=person.name, email=person.email, party_id=person.id, role="owner")
                await self.ctx.mail.queue(
                    f"{pep.id}:initial-meeting-reminder:{stamp}:{person.id}", "initial-meeting-reminder", pep, address,
                    {"pep_reference": pep.id, "meeting_due": due, "recipient_role": self.ctx.mail.reader_role(address)},
                )
        elif reminder == "school-form":
            latest = self.returns.latest(pep.id)
            if latest is not None and latest.status in ("pending", "accepted"):
                # the school did return it (waiting for review, or taken in): a reminder
                # saying "not yet received" would be wrong; after a query it still goes
                self.ctx.store.record_event("pep", pep.id, "reminder-not-sent", actor=SYSTEM, details={
                    "reminder": reminder, "reason": f"the returned form {latest.id} is {latest.status}",
                })
                return {}
            meeting_day = local_date(pep.meeting_at) if pep.meeting_at else self.ctx.today()
            context = {
                "pep_reference": pep.id, "meeting_date": meeting_day,
                "return_by": self.ctx.deadlines.return_by(pep, meeting_day),
            }
            for recipient in self.ctx.mail.setting_recipients(pep):
                await self.ctx.mail.queue(
                    f"{pep.id}:pep-form-reminder:{recipient.email}", "pep-form-reminder", pep, recipient,
                    {**context, "recipient_role": self.ctx.mail.reader_role(recipient)},
                )
        else:
            raise ValueError(f"unknown reminder {reminder!r} in the diagram's task header 'reminder'")
        return {}

    def _acting_for(self, pep: r.Pep) -> list[r.Staff]:
        """Who acts on the PEP today: the allocated owner, else the locality's team
        manager(s) (the owner's tasks are with them)."""
        assignment = assignment_for(self.ctx.store, pep.child_id, self.ctx.today())
        if assignment.staff_id:
            return [self.ctx.store.staff(assignment.staff_id)]
        group = team_manager_group(self.ctx.store, self.ctx.store.child(pep.child_id).locality)
        return [s for s in self.ctx.store.all_staff() if s.candidate_group == group]

    @property
    def returns(self):
        """Returned forms read, flagged, reviewed and merged (:mod:`pepflow.school_returns`)."""
        from ..school_returns import SchoolReturns

        return SchoolReturns(self.ctx)

    def receive_school_form(self, pep_id: str, data: bytes, *, actor: str, accept: bool = False) -> dict[str, Any]:
        """Check a returned Word form, keep it and read it; raise ``DocumentRejected``
        (nothing kept) when it is broken, hostile, or the form of another PEP, and
        ``ReturnRefused`` when the PEP is final or cancelled. A return with nothing
        flagged is taken in at once; else it waits for review (``accept``: the person
        taking it in accepts it as read, recorded as theirs)."""
        report = self.returns.receive(pep_id, data, actor=actor)
        if accept and report.status == "pending":
            report = self.returns.accept(report.return_id, actor=actor)
        document_id = self.ctx.store.returns.get(report.return_id).document_id
        return {
            "returnedDocumentId": document_id, "schoolReturnId": report.return_id, "report": report,
            "missingFields": [f.field for f in report.findings if f.field and not f.text and f.kind == "outside-answers"],
            "invalidFields": {f.field: f.text for f in report.findings if f.kind == "unparsed" and f.field},
        }

    def take_in_school_form(self, pep_id: str, school_return_id: int | None = None) -> dict[str, Any]:
        """The process reaches a returned form: taken in when it was accepted (nothing
        flagged, or accepted when it came), else business support reviews it."""
        stored = self.ctx.store.returns.get(school_return_id) if school_return_id else self.returns.latest(pep_id)
        if stored is not None and stored.status == PENDING:
            report = self.returns.report(stored.id)
            return {
                "schoolReturnId": stored.id, "returnNeedsReview": True, "returnAskedAgain": False,
                "returnFlagCount": report.flag_count, "returnChangeCount": len(report.changes), **REVIEW_FORM_CLEARED,
            }
        if stored is not None and stored.status in (QUERIED, WITHDRAWN):
            # decided on the review list before the process came to it (a return that
            # came before the form was asked for, or while this step waited): the school
            # was asked again, or the file withdrawn; nothing is taken in, the process
            # waits for the next return
            return {"schoolReturnId": stored.id, "returnNeedsReview": False, "returnAskedAgain": True}
        self.ctx.mark_form_returned(pep_id)
        return {"returnNeedsReview": False, "returnAskedAgain": False, **({"schoolReturnId": stored.id} if stored is not None else {})}

    async def decide_school_return(self, pep_id: str, school_return_id: int, decision: str, reason_code: str | None) -> dict[str, Any]:
        """After the review: take the form in (accepted), or mail the school the query
        and wait for their next return."""
        accepted = await asyncio.to_thread(self.returns.decide_in_process, school_return_id, decision, reason_code)
        if accepted:
            await asyncio.to_thread(self.ctx.mark_form_returned, pep_id)
        else:
            await self.returns.send_query(school_return_id)
        return {"returnAccepted": accepted}
