"""Closing a PEP before its time: a change of education setting (a new PEP at the new
setting, the open one cancelled) and the child leaving care."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..domain.enums import PepStatus
from ..domain.rules import setting_change_pep_due
from ..store import records as r
from .base import SYSTEM, at_local, iso
from .context import Stage


class ClosingStage(Stage):
    def schedule_setting_change_pep(self, child_id: str, pep_id: str | None, setting_changed_on: str) -> dict[str, Any]:
        """A change of education setting: a PEP at the new setting within 10 working days
        (statutory guidance). Read from the facts, whenever the process gets here: the
        child's setting now, and their open PEP. An open PEP already for that setting
        stands; any other open PEP is cancelled (the PEP co-ordinator is told when its
        meeting was arranged) and a new one is opened, its meeting on the last school
        day at the new setting by the deadline (the first one after it when the school
        is closed until then, and the PEP records why)."""
        changed_on = date.fromisoformat(setting_changed_on)
        today = self.ctx.today()
        setting = self.ctx.store.setting_for(child_id, max(changed_on, today))
        current = self.ctx.open_pep(child_id)
        if current is not None and setting is not None and current.setting_id == setting.id:
            meeting = current.meeting_at
            if meeting is None:
                due = setting_change_pep_due(changed_on, self.ctx.config.settings.setting_change_pep_working_days, self.ctx.working_days)
                day, _in_time = self.ctx.meetings.by_deadline(self.ctx.meetings.place_for_pep(current), due)
                current = self.ctx.store.update_pep(current.id, actor=SYSTEM, meeting_at=at_local(day, self.ctx.config.meeting_hour))
            return {**self.ctx.pep_variables(current), "meetingAt": iso(current.meeting_at)}
        if current is not None:
            self._cancel_pep(current, "change-of-school")
        due = setting_change_pep_due(changed_on, self.ctx.config.settings.setting_change_pep_working_days, self.ctx.working_days)
        place = self.ctx.meetings.place(setting.id if setting else None)
        day, in_time = self.ctx.meetings.by_deadline(place, due)
        meeting = at_local(day, self.ctx.config.meeting_hour)
        calendar = self.ctx.calendar(setting.id if setting else None)
        year, term = self.ctx.term_for(calendar, day)
        pep = self.ctx.store.create_pep(
            child_id, year, term, actor=SYSTEM, is_initial=True, on=max(changed_on, today), meeting_at=meeting,
            setting_id=setting.id if setting else None,
        )
        if not in_time:
            self.ctx.store.record_event("pep", pep.id, "meeting-after-statutory-deadline", actor=SYSTEM, details={
                "deadline": due, "meeting_on": day,
                "reason": "the new setting is closed on every day up to the deadline",
            })
        return {**self.ctx.pep_variables(pep), "meetingAt": iso(meeting)}

    def _cancel_pep(self, pep: r.Pep, reason: str) -> None:
        """Cancel an open PEP (never a final one), close its escalations, and withdraw
        the mail it still had queued."""
        if pep.status.is_closed:
            return
        self.ctx.store.update_pep(pep.id, actor=SYSTEM, status=PepStatus.CANCELLED)
        self.ctx.store.record_event("pep", pep.id, "cancel-reason", actor=SYSTEM, details={"reason": reason})
        self.ctx.store.escalations.resolve(pep.id, None, f"PEP cancelled ({reason})")
        self.ctx.store.withdraw_queued_mail([pep.id], reason=f"PEP cancelled ({reason})", actor=SYSTEM)

    def close_pep_case(self, child_id: str, pep_id: str | None, left_care_on: str, reason: str | None = None) -> dict[str, Any]:
        """The child left care: the open PEP is cancelled, nothing queued for the child
        goes out any more, and the care episode is closed (the council event closed it
        already, with its reason; this keeps that)."""
        left = date.fromisoformat(left_care_on)
        for pep in self.ctx.store.peps_for(child_id):
            if not pep.status.is_closed:
                self._cancel_pep(pep, "left-care")
        self.ctx.store.withdraw_queued_mail([p.id for p in self.ctx.store.peps_for(child_id)], reason="the child left care", actor=SYSTEM)
        episode = self.ctx.store.current_care_episode(child_id)
        if episode is not None:
            self.ctx.store.close_care_episode(episode.id, left, reason.value, actor=SYSTEM)
        return {}
