"""Boxes 1 and 2 of the flowchart: a child enters care (or is already in care when
the council starts), the PEP is opened, the Virtual School is told; the initial
meeting is arranged, its venue kept, the PEP co-ordinator told."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ..domain.enums import PepSection, PepStatus, VenueCode, Variant
from ..store import records as r
from .base import LONDON, SYSTEM, at_local, iso, local_date, parse_instant
from .context import Stage


class EntryStage(Stage):
    def create_pep_record(self, child_id: str, entered_care_on: str, emergency: bool, care_episode_id: str | None = None) -> dict[str, Any]:
        entered = date.fromisoformat(entered_care_on)
        episode = self.ctx.store.open_care_episode(child_id, entered, emergency=emergency, actor=SYSTEM, episode_id=care_episode_id)
        today = max(self.ctx.today(), entered)
        calendar = self.ctx.calendar(None)
        year, term = self.ctx.term_for(calendar, today)
        pep = self.ctx.open_pep(child_id) or self.ctx.store.create_pep(
            child_id, year, term, actor=SYSTEM, is_initial=True, on=today, care_episode_id=episode.id
        )
        settings = self.ctx.config.settings
        due = self.ctx.initial_meeting_due(entered)
        # an entry recorded late: the reminder is due at once, and `send_reminder` lets
        # the escalation speak instead once the meeting is overdue
        reminder = self.ctx.working_days.add_working_days(due, -settings.initial_meeting_reminder_working_days)
        return {
            **self.ctx.pep_variables(pep),
            "careEpisodeId": episode.id,
            "initialMeetingDueAt": iso(at_local(due, 17)),
            "initialMeetingReminderAt": iso(max(at_local(reminder), self.ctx.now())),
        }

    def resume_pep_cycle(self, child_id: str) -> dict[str, Any]:
        """A child already in care when the council starts using the product: no
        initial PEP; the termly cycle starts with the next PEP, three school weeks
        into the current term (or the next one if that date has passed)."""
        episode = self.ctx.store.current_care_episode(child_id)
        if episode is None:
            raise LookupError(f"child {child_id} has no open care episode; record the entry into care first")
        today = self.ctx.today()
        pep = self.ctx.open_pep(child_id)
        if pep is None:
            setting = self.ctx.store.setting_for(child_id, today)
            calendar = self.ctx.calendar(setting.id if setting else None)
            term = calendar.term_of(today)
            meeting_day = calendar.add_school_days(term.starts_on, 15) if term else None
            if meeting_day is None or meeting_day <= today + timedelta(days=21):
                _year, term = calendar.next_term(today)
                meeting_day = calendar.add_school_days(term.starts_on, 15)
            meeting_day = self.ctx.meetings.first_valid(self.ctx.meetings.place(setting.id if setting else None), meeting_day)
            meeting = at_local(meeting_day, self.ctx.config.meeting_hour)
            year, term_name = self.ctx.term_for(calendar, meeting_day)
            pep = self.ctx.store.create_pep(
                child_id, year, term_name, actor=SYSTEM, on=today, meeting_at=meeting, care_episode_id=episode.id,
                setting_id=setting.id if setting else None,
            )
        return {
            **self.ctx.pep_variables(pep), "careEpisodeId": episode.id,
            "meetingAt": iso(pep.meeting_at) if pep.meeting_at else None,
        }

    async def notify_virtual_school(self, pep_id: str, entered_care_on: str, emergency: bool, initial_meeting_due_at: str) -> dict[str, Any]:
        pep = self.ctx.store.pep(pep_id)
        await self.ctx.mail.queue(
            f"{pep.id}:virtual-school-notice", "virtual-school-notice", pep, self.ctx.store.virtual_school_address(),
            {
                "pep_reference": pep.id, "entered_care_on": date.fromisoformat(entered_care_on),
                "emergency": bool(emergency), "meeting_due": local_date(parse_instant(initial_meeting_due_at)),
                "recipient_role": "virtual-school", "has_setting": pep.variant != Variant.EARLY_YEARS_NO_SETTING,
            },
        )
        return {}

    async def inform_pep_coordinator(self, pep_id: str, meeting_at: str, venue_code: str, invitee_ids: list[str]) -> dict[str, Any]:
        meeting = parse_instant(meeting_at)
        VenueCode(venue_code)  # a code the form offers, or a clear failure
        pep = self.ctx.store.update_pep(pep_id, actor=SYSTEM, meeting_at=meeting, attendee_ids=list(invitee_ids or []))
        self.ctx.store.escalations.resolve(pep.id, ("initial-meeting",), "initial meeting arranged")
        social = self.ctx.store.section(pep_id, PepSection.SOCIAL_WORKER) or {}
        venue = self.venue_of(pep, venue_code)
        self.ctx.store.save_section(pep_id, PepSection.SOCIAL_WORKER, {**social, "venue_code": venue_code, "venue": venue}, actor=SYSTEM)
        await self.ctx.mail.queue(
            f"{pep.id}:initial-meeting-arranged:{iso(meeting)}", "initial-meeting-arranged", pep,
            self.ctx.store.pep_coordinator_address(),
            {
                "pep_reference": pep.id, "meeting_date": local_date(meeting),
                "meeting_time": meeting.astimezone(LONDON).strftime("%H:%M"), "venue": venue,
                "recipient_role": "pep-coordinator",
            },
        )
        return {"meetingAt": iso(meeting)}

    def venue_of(self, pep: r.Pep, venue_code: str | None) -> str | None:
        """Where the meeting is, for people: the code's wording, the setting's name when
        it is at the setting, and the details recorded in the PEP (the records store)."""
        social = self.ctx.store.section(pep.id, PepSection.SOCIAL_WORKER) or {}
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
        pep = self.ctx.store.pep(pep_id)
        if pep.status in (PepStatus.FINAL, PepStatus.CANCELLED):
            raise ValueError(f"{pep_id} is {pep.status.value}: its meeting cannot change")
        social = self.ctx.store.section(pep_id, PepSection.SOCIAL_WORKER) or {}
        update = {**social, "venue_details": text}
        if social.get("venue_code"):
            update["venue"] = self._venue_text(pep, social["venue_code"], text)
        self.ctx.store.save_section(pep_id, PepSection.SOCIAL_WORKER, update, actor=actor)

    def _venue_text(self, pep: r.Pep, code: str, details: str | None) -> str:
        parts = [VenueCode(code).label]
        if code == VenueCode.EDUCATION_SETTING and pep.setting_id:
            parts[0] += f" ({self.ctx.store.setting(pep.setting_id).name})"
        if details:
            parts.append(details)
        return ": ".join(parts)
