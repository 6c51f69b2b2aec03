"""The meeting and typing up (boxes 2 and 5, 6 before the final PEP): the meeting-date
rule on what a person entered, the meeting recorded, the PEP typed up or sent back,
and a wait a person owns that runs past its deadline escalated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..calendar import MissingTermDates, academic_year_label
from ..domain.enums import PepSection, PepStatus
from ..domain.meeting_dates import long_date
from ..escalation import kind as escalation_kind
from ..meetings import NO_PROBLEM, Problem
from ..pep_content import OWNER_LABELS as _OWNER_LABELS
from ..store import records as r
from .base import SYSTEM, iso, local_date, parse_instant
from .context import Stage

#: in the loop of box 6, each round's form starts empty (Tasklist fills a form from
#: the process variables)
TYPE_UP_FORM_CLEARED = {"typedUp": None}
FINALISE_FORM_CLEARED = {"pepApproved": None, "returnReasonCode": None, "finaliseHeldReason": None}


class MeetingStage(Stage):
    def meeting_date_problem(self, pep: r.Pep, instants: list[datetime], what: str, *, initial: bool) -> Problem | None:
        """The meeting-date rule, and whether every date that follows from a meeting on
        that day can be worked out (when the form goes, when it is due back, when the
        record and the final PEP are due): a date needing term dates nobody loaded is
        refused to the person entering it, not left to an operator later."""
        problem = self.ctx.meetings.problem(self.ctx.meetings.place_for_pep(pep), instants, what)
        if problem is not None:
            return problem
        calendar = None  # the setting's, read once for every date
        for instant in instants:
            try:
                if calendar is None:
                    calendar = self.ctx.calendar(pep.setting_id)
                send_on = self.ctx.today() if initial else local_date(self.ctx.deadlines.sw_part_due(pep, instant, calendar))
                self.ctx.deadlines.form_reminder_at(pep, instant, send_on, calendar)
                self.ctx.deadlines.write_up_deadlines(pep, instant, calendar)
            except MissingTermDates as missing:
                where = self.ctx.store.setting(pep.setting_id).name if pep.setting_id else "the council (default term dates)"
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
        pep = self.ctx.store.pep(pep_id)
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
        self.ctx.store.record_event("pep", pep.id, "meeting-date-refused", actor=SYSTEM, details={
            "code": problem.code, "day": problem.day, "next_valid": problem.next_valid,
        })
        return problem.variables()

    def record_pep_meeting(self, pep_id: str, attendee_ids: list[str], next_meeting_dates: list[str] | None) -> dict[str, Any]:
        """Box 5: the meeting was held. The next PEP dates must be valid meeting days
        (else the task goes back to the worker with the reason); the record is kept and
        the PEP is ``meeting-held``."""
        pep = self.ctx.store.pep(pep_id)
        if pep.status.is_closed:
            return dict(NO_PROBLEM)  # a retried job after the PEP moved on
        dates = [parse_instant(d) for d in (next_meeting_dates or [])]
        problem = self.meeting_date_problem(pep, dates, "The next PEP date", initial=False)
        if problem is not None:
            self.ctx.store.record_event("pep", pep.id, "meeting-date-refused", actor=SYSTEM, details={
                "code": problem.code, "day": problem.day, "next_valid": problem.next_valid,
            })
            return problem.variables()
        with self.ctx.store.atomic():
            self.ctx.advance_status(pep_id, PepStatus.MEETING_HELD, attendee_ids=list(attendee_ids or []))
            self.ctx.store.save_section(pep.id, PepSection.MEETING_RECORD, self.ctx.meeting_record(pep, attendee_ids, next_meeting_dates).model_dump(mode="json"), actor=SYSTEM)
        self.ctx.store.escalations.resolve(pep.id, ("meeting-not-recorded",), "meeting recorded")
        return dict(NO_PROBLEM)

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
        pep = self.ctx.store.pep(pep_id)
        if pep.status.is_closed or pep.status == target:
            return dict(cleared)  # a retried job
        with self.ctx.store.atomic():
            self.ctx.advance_status(pep_id, PepStatus.MEETING_HELD, target)
            if target == PepStatus.RETURNED_FOR_CHANGES:
                self.ctx.store.record_event("pep", pep_id, "returned-for-changes", actor=SYSTEM, details={
                    "reason": return_reason or "no reason given",
                })
        return dict(cleared)

    async def escalate_overdue(self, pep_id: str, escalation: str, raised_at: str, due_at: str | None = None) -> dict[str, Any]:
        """A wait a person owns is past its deadline: recorded (the Virtual School
        dashboard lists it until the PEP moves on) and the PEP co-ordinator told, once
        per PEP, kind and deadline."""
        what = escalation_kind(escalation)
        pep = self.ctx.store.pep(pep_id)
        if pep.status.is_closed:
            return {}  # finished or cancelled meanwhile: nothing is late
        timer = parse_instant(raised_at)
        due = parse_instant(due_at or raised_at)
        self.ctx.store.escalations.raise_(pep.id, what.code, timer, owner_staff_id=pep.owner_staff_id)
        coordinator = self.ctx.store.pep_coordinator_address()
        key = f"{pep.id}:escalation:{what.code}:{iso(timer)}"
        if what.code == "initial-meeting":
            await self.ctx.mail.queue(
                f"{pep.id}:initial-meeting-overdue", "initial-meeting-overdue", pep, coordinator,
                {"pep_reference": pep.id, "meeting_due": local_date(due),
                 "days_overdue": max(0, (self.ctx.today() - local_date(due)).days),
                 "reminded": any(m.kind == "initial-meeting-reminder" for m in self.ctx.store.mail_log(pep.id)),
                 "recipient_role": "pep-coordinator"},
            )
            return {}
        owner = self.ctx.store.staff(pep.owner_staff_id) if pep.owner_staff_id else None
        await self.ctx.mail.queue(key, "pep-escalation", pep, coordinator, {
            "pep_reference": pep.id, "what": what.what, "due_on": local_date(due),
            "who_owns": "Business support" if what.owner == "business-support" else _OWNER_LABELS[pep.owner_role],
            "owner_name": owner.name if owner and what.owner == "worker" else None,
            "next_step": what.next_step, "recipient_role": "pep-coordinator",
        })
        return {}
