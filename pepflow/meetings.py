"""Meeting dates against the records: the one rule of :mod:`pepflow.domain.meeting_dates`
applied to a PEP's setting (its own term dates, else the council's), for every way a
date arrives - a caseworker's form (checked when the task is completed and again by
the process), the CLI, and the dates the process picks itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .calendar import WorkingDays
from .clock import Clock
from .domain.meeting_dates import (
    MeetingDateRefused,
    MeetingPlace,
    check_meeting_day,
    last_valid_day_on_or_before,
    next_valid_day,
)
from .domain.enums import Variant

LONDON = ZoneInfo("Europe/London")


def local_day(instant: datetime) -> date:
    return instant.astimezone(LONDON).date()


def at_local(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), LONDON).astimezone(timezone.utc)


@dataclass(frozen=True)
class Problem:
    """A refused date as process variables carry it: codes and dates, no prose."""

    code: str
    day: date
    next_valid: date | None
    message: str

    def variables(self) -> dict[str, str | None]:
        return {
            "meetingDateProblem": self.code,
            "meetingDateRefusedOn": self.day.isoformat(),
            "meetingDateNextValid": self.next_valid.isoformat() if self.next_valid else None,
        }


NO_PROBLEM = {"meetingDateProblem": None, "meetingDateRefusedOn": None, "meetingDateNextValid": None}


class MeetingDates:
    """The meeting-date rule for one council's records."""

    def __init__(self, store, clock: Clock, working_days: WorkingDays | None = None) -> None:
        self.store = store
        self.clock = clock
        self.working_days = working_days or WorkingDays()

    def today(self) -> date:
        return local_day(self.clock.now())

    def place(self, setting_id: str | None, *, no_setting: bool = False) -> MeetingPlace:
        """Whose days a meeting is held on: the setting's school days, else (a young
        child with no setting) working days."""
        if no_setting or not setting_id:
            return MeetingPlace(None, self.working_days, "a working day (no education setting)")
        setting = self.store.setting(setting_id)
        return MeetingPlace(self.store.school_calendar_for(setting_id), self.working_days, setting.name)

    def place_for_pep(self, pep) -> MeetingPlace:
        return self.place(pep.setting_id, no_setting=pep.variant == Variant.EARLY_YEARS_NO_SETTING)

    def check(self, place: MeetingPlace, instant: datetime, what: str = "The meeting date") -> None:
        """Raise :class:`MeetingDateRefused` unless ``instant`` may hold a PEP meeting."""
        if instant < self.clock.now() and local_day(instant) == self.today():
            raise MeetingDateRefused(
                "past", f"{what} {instant.astimezone(LONDON):%H:%M} today has already passed.",
                day=local_day(instant), next_valid=None,
            )
        check_meeting_day(local_day(instant), place, today=self.today(), what=what)

    def problem(self, place: MeetingPlace, instants: list[datetime], what: str = "The meeting date") -> Problem | None:
        """The first refused date among ``instants``, or ``None`` when all are valid."""
        for instant in instants:
            try:
                self.check(place, instant, what)
            except MeetingDateRefused as refused:
                return Problem(refused.code, refused.day, refused.next_valid, str(refused))
        return None

    def first_valid(self, place: MeetingPlace, day: date) -> date:
        """The process's own choice: ``day`` if valid, else the next valid day (never
        before today)."""
        return next_valid_day(max(day, self.today()), place)

    def by_deadline(self, place: MeetingPlace, deadline: date) -> tuple[date, bool]:
        """A meeting by a statutory ``deadline``: the last valid day on or before it (not
        before today); when there is none (the window is all holiday), the first valid
        day after it. Returns the day and whether it keeps the deadline."""
        within = last_valid_day_on_or_before(deadline, place, not_before=self.today())
        if within is not None:
            return within, True
        return next_valid_day(max(deadline + timedelta(days=1), self.today()), place), False
