"""The dates that follow from a PEP meeting: when the social worker's part is due,
when the form is due back and the school reminded, when the meeting must be recorded
and the PEP be final (docs/calendar.md, docs/process-rules.md)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from ..calendar import SchoolCalendar
from ..domain.enums import Variant
from ..store import records as r
from .base import at_local, iso, local_date

if TYPE_CHECKING:
    from .context import CaseContext


def _school_days_back(calendar: SchoolCalendar, day: date, n: int, floor: date) -> date:
    """``n`` school days before ``day``, or ``floor`` if counting would pass it."""
    while n > 0:
        day -= timedelta(days=1)
        if day < floor:
            return floor
        if calendar.is_school_day(day):
            n -= 1
    return day


class Deadlines:
    def __init__(self, ctx: CaseContext) -> None:
        self.ctx = ctx

    def return_by(self, pep: r.Pep, meeting_day: date, sent_on: date | None = None,
                  calendar: SchoolCalendar | None = None) -> date:
        """The form is due back the school day before the reminder, which goes a set
        number of school days before the meeting; but never sooner than a school day
        after the form went (an initial PEP's form goes as soon as possible).
        ``calendar``: the setting's, when the caller has just read it."""
        if calendar is None:
            calendar = self.ctx.calendar(pep.setting_id)
        if sent_on is None:
            sent_on = local_date(pep.form_sent_at) if pep.form_sent_at else self.ctx.today()
        anchor = calendar.last_school_day_on_or_before(meeting_day)
        # counting back never needs to pass the day the form went: anything earlier is
        # overruled below (and may lie in a year whose term dates are not needed)
        planned = _school_days_back(calendar, anchor, self.ctx.config.settings.form_reminder_school_days + 1, sent_on)
        return max(planned, calendar.add_school_days(sent_on, 1))

    def form_reminder_at(self, pep: r.Pep, meeting: datetime, sent_on: date,
                         calendar: SchoolCalendar | None = None) -> datetime:
        """The school day after the form was due back, 09:00. A reminder that would
        fall at or after the meeting is pointless (the meeting never waits), so it
        is put after the meeting, where the interrupted wait never reaches it."""
        if calendar is None:
            calendar = self.ctx.calendar(pep.setting_id)
        return_by = self.return_by(pep, local_date(meeting), sent_on, calendar)
        reminder = at_local(calendar.add_school_days(return_by, 1))
        return reminder if reminder < meeting else meeting + timedelta(days=1)

    def sw_part_due(self, pep: r.Pep, meeting: datetime, calendar: SchoolCalendar | None = None) -> datetime:
        """The social worker's part is due when the form must go: three school weeks
        before the meeting (never before now)."""
        if calendar is None:
            calendar = self.ctx.calendar(pep.setting_id)
        weeks = self.ctx.config.settings.form_send_school_weeks
        return max(self.ctx.now(), at_local(calendar.school_weeks_before(local_date(meeting), weeks)))

    def write_up_deadlines(self, pep: r.Pep, meeting: datetime,
                           calendar: SchoolCalendar | None = None) -> dict[str, str]:
        """When the meeting must be recorded (working days after it) and the PEP be final
        (the council's standard, school days after it; working days with no setting)."""
        settings = self.ctx.config.settings
        day = local_date(meeting)
        record_by = self.ctx.working_days.add_working_days(day, settings.meeting_record_working_days)
        if pep.variant == Variant.EARLY_YEARS_NO_SETTING or not pep.setting_id:
            final_by = self.ctx.working_days.add_working_days(day, settings.finalise_school_days)
        else:
            if calendar is None:
                calendar = self.ctx.calendar(pep.setting_id)
            final_by = calendar.add_school_days(day, settings.finalise_school_days)
        # follow up: the end of the meeting's day (record it while it is fresh), and a
        # working week before the PEP must be final
        final_follow_up = max(self.ctx.working_days.add_working_days(final_by, -5), day)
        return {"meetingRecordDueAt": iso(at_local(max(record_by, day), 17)), "finaliseDueAt": iso(at_local(final_by, 17)),
                "meetingRecordFollowUpAt": iso(max(at_local(day, 17), meeting)),
                "finaliseFollowUpAt": iso(at_local(final_follow_up, 9))}
