"""The one rule for PEP meeting dates.

A PEP meeting is held on a **school day of the child's setting** (its own term dates,
else the council's published ones: in term, outside half term, not a weekend, bank
holiday or INSET day), or on a **working day** when the child has no setting (a young
child not in an early-years setting meets at home or at the council), and **not in the
past**. The same rule serves every way a date arrives: a caseworker's form, the CLI,
the web, and the dates the process picks itself (a change of school, a PEP nobody set
a date for). A date that breaks it is refused with the reason in words and the next
valid day, never moved silently; a date whose academic year has no term dates is
refused naming the setting and the year (:class:`pepflow.calendar.MissingTermDates`).

Pure: it takes the calendar and "now" as arguments; nothing here reads a clock or a
database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import holidays

from pepflow.calendar import (
    MissingTermDates,
    SchoolCalendar,
    WorkingDays,
    academic_year_label,
    academic_year_of,
)

#: how far ahead :func:`next_valid_day` looks before giving up (a summer holiday is
#: about 45 days; a year without term dates is refused before this is reached)
_SEARCH_DAYS = 400

#: refusal codes (also what process variables carry when the process refuses a date)
PAST = "past"
WEEKEND = "weekend"
BANK_HOLIDAY = "bank-holiday"
HALF_TERM = "half-term"
SCHOOL_HOLIDAY = "school-holiday"
INSET_DAY = "inset-day"
CLOSURE = "closure"
NO_TERM_DATES = "no-term-dates"


def long_date(day: date) -> str:
    """``Friday 25 December 2026``: how dates are written to people (en-GB)."""
    return f"{day:%A} {day.day} {day:%B %Y}"


class MeetingDateRefused(ValueError):
    """A meeting date the rule does not allow. ``code`` says why (one of the module's
    codes), ``next_valid`` is the first day on or after it that is allowed (``None``
    when no term dates are loaded to tell), and the message says both in words."""

    def __init__(self, code: str, message: str, *, day: date, next_valid: date | None) -> None:
        super().__init__(message)
        self.code = code
        self.day = day
        self.next_valid = next_valid


@dataclass(frozen=True)
class MeetingPlace:
    """Whose days a meeting must fall on: a setting's school days (``calendar``), or
    working days when there is no setting (``calendar`` is ``None``)."""

    calendar: SchoolCalendar | None
    working_days: WorkingDays
    label: str  # "Oakridge Primary School", or "a working day (no education setting)"

    @property
    def has_setting(self) -> bool:
        return self.calendar is not None


def _bank_holiday_name(day: date) -> str | None:
    name = holidays.country_holidays("GB", subdiv="ENG", years=day.year).get(day)
    return str(name) if name else None


def why_not(day: date, place: MeetingPlace) -> tuple[str, str] | None:
    """``None`` when ``day`` is a valid meeting day at ``place`` (the past aside), else
    ``(code, reason in words)``. Raises :class:`MissingTermDates` when the setting's
    term dates for that academic year were never loaded."""
    holiday = _bank_holiday_name(day)
    if holiday:
        return BANK_HOLIDAY, f"it is {holiday}, a bank holiday"
    if day.weekday() >= 5:
        return WEEKEND, f"it is a {day:%A}"
    if place.calendar is None:
        if not place.working_days.is_working_day(day):
            return CLOSURE, "the council is closed that day"
        return None
    calendar = place.calendar
    terms = calendar.terms_for(academic_year_of(day))
    if day in terms.inset_days:
        return INSET_DAY, f"it is an INSET (staff training) day at {place.label}"
    term = calendar.term_of(day)
    if term is None:
        return SCHOOL_HOLIDAY, f"it is in the school holidays at {place.label}"
    if term.in_half_term(day):
        return HALF_TERM, f"it is in the {term.name} half term at {place.label}"
    if not calendar.is_school_day(day):  # pragma: no cover - the cases above are exhaustive
        return SCHOOL_HOLIDAY, f"it is not a school day at {place.label}"
    return None


def is_valid_day(day: date, place: MeetingPlace) -> bool:
    return why_not(day, place) is None


def next_valid_day(day: date, place: MeetingPlace) -> date:
    """The first valid meeting day on or after ``day`` (the process's own choice when
    a date it worked out falls on a closed day). Raises :class:`MissingTermDates` when
    it would have to look into a year with no term dates."""
    candidate = day
    for _ in range(_SEARCH_DAYS):
        if why_not(candidate, place) is None:
            return candidate
        candidate += timedelta(days=1)
    raise ValueError(f"no valid meeting day within {_SEARCH_DAYS} days of {day.isoformat()}")


def last_valid_day_on_or_before(day: date, place: MeetingPlace, *, not_before: date) -> date | None:
    """The last valid meeting day in ``[not_before, day]``, or ``None`` if there is none
    (used to keep a statutory deadline: meet before the window closes)."""
    candidate = day
    while candidate >= not_before:
        if why_not(candidate, place) is None:
            return candidate
        candidate -= timedelta(days=1)
    return None


def check_meeting_day(day: date, place: MeetingPlace, *, today: date, what: str = "The meeting date") -> None:
    """Refuse a meeting day that is in the past or not a valid day at ``place``.

    The message names the day, the reason and the next valid day, e.g. "The meeting
    date Friday 25 December 2026 cannot be used: it is Christmas Day, a bank holiday.
    The next school day at Oakridge Primary School is Monday 4 January 2027."
    """
    try:
        if day < today:
            nxt = next_valid_day(today, place)
            raise MeetingDateRefused(
                PAST,
                f"{what} {long_date(day)} is in the past. The next "
                f"{_kind(place)} is {long_date(nxt)}.",
                day=day, next_valid=nxt,
            )
        reason = why_not(day, place)
        if reason is None:
            return
        code, words = reason
        nxt = next_valid_day(day, place)
    except MissingTermDates as missing:
        raise MeetingDateRefused(
            NO_TERM_DATES,
            f"{what} {long_date(day)} cannot be checked: no term dates are loaded for "
            f"{place.label} in {academic_year_label(missing.academic_year)}. Ask the "
            f"administrator to import them (pep import term-dates FILE).",
            day=day, next_valid=None,
        ) from None
    raise MeetingDateRefused(
        code,
        f"{what} {long_date(day)} cannot be used: {words}. The next {_kind(place)} is "
        f"{long_date(nxt)}.",
        day=day, next_valid=nxt,
    )


def _kind(place: MeetingPlace) -> str:
    return f"school day at {place.label}" if place.has_setting else "working day"
