"""The domain rules of the PEP process as pure functions.

Nothing here reads the clock or a database: every function takes the dates it needs.

School years follow the English 1 September cut-off: a child is in Reception in the
academic year that starts on the 1 September after their fourth birthday (so a child
born on 31 August is the oldest in one year group and a child born on 1 September the
youngest in the next), Year N in the year they turn N + 5, Year 12 at 16-17.

Ageing out (``aged_out``): by default a young person leaves the PEP cycle at the end
of the academic year (31 August) in which they reach the age limit (18), so a Year 13
student who turns 18 in October keeps their PEPs until the summer term is done. The
alternative rule, ``"birthday"``, stops on the birthday itself. Both are a setting
(:class:`pepflow.domain.settings.Settings.age_out_rule`).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Literal

from pepflow.calendar import WorkingDays, academic_year_of
from pepflow.domain.enums import OwnerRole, PepStatus, SettingKind, TermName, Variant

CHILD_ID_PATTERN = re.compile(r"^C-\d{4,}$")
_PEP_REFERENCE = re.compile(r"^PEP-(C-\d{4,})-(\d{4})-(AUT|SPR|SUM)(?:-(\d+))?$")

#: Statutory "prescribed days" (Education Act 1996 s8): compulsory school age starts on
#: the first of these on or after the fifth birthday.
_PRESCRIBED_DAYS = ((3, 31), (8, 31), (12, 31))


def age_on(date_of_birth: date, on: date) -> int:
    """Age in whole years on ``on``. A 29 February birthday counts as 1 March in other years."""
    if on < date_of_birth:
        raise ValueError(
            f"{on.isoformat()} is before the date of birth {date_of_birth.isoformat()}"
        )
    years = on.year - date_of_birth.year
    if (on.month, on.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def birthday(date_of_birth: date, age: int) -> date:
    """The date on which someone born on ``date_of_birth`` turns ``age``."""
    year = date_of_birth.year + age
    try:
        return date_of_birth.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 3, 1)


def school_year(date_of_birth: date, on: date) -> int:
    """The national curriculum year group on ``on``: 0 = Reception, 1..13; negative below.

    -1 is the year before Reception (a nursery year), and so on.
    """
    start = academic_year_of(on)
    age_at_cut_off = (start - date_of_birth.year) - (
        1 if (8, 31) < (date_of_birth.month, date_of_birth.day) else 0
    )
    return age_at_cut_off - 4


def compulsory_school_age_from(date_of_birth: date) -> date:
    """The day a child reaches compulsory school age (the prescribed day after turning five)."""
    fifth = birthday(date_of_birth, 5)
    for year in (fifth.year, fifth.year + 1):
        for month, day in _PRESCRIBED_DAYS:
            prescribed = date(year, month, day)
            if prescribed >= fifth:
                return prescribed
    raise AssertionError("unreachable")  # pragma: no cover


def owner_role_for(date_of_birth: date, on: date) -> OwnerRole:
    """Who owns the PEP: under 16 the social worker, 16-17 the leaving care worker, 18+ the PA."""
    age = age_on(date_of_birth, on)
    if age < 16:
        return OwnerRole.SOCIAL_WORKER
    if age < 18:
        return OwnerRole.LEAVING_CARE_WORKER
    return OwnerRole.PERSONAL_ADVISER


def variant_for(date_of_birth: date, on: date, setting_kind: SettingKind | str | None) -> Variant:
    """The PEP variant for a child on a date in a kind of setting.

    - Year 12 or above: ``post-16`` (whatever the setting, including none).
    - Below compulsory school age with no setting (``None`` or ``none``):
      ``early-years-no-setting`` - the PEP goes to the health visitor and carers.
    - Below Reception, or below compulsory school age in an early-years setting:
      ``early-years``.
    - Otherwise (Reception to Year 11): ``school-age``. A child of compulsory school age
      with no setting still gets a school-age PEP: finding a school is then its business.
    """
    kind = SettingKind(setting_kind) if setting_kind is not None else SettingKind.NONE
    year = school_year(date_of_birth, on)
    if year >= 12:
        return Variant.POST_16
    below_compulsory_age = on < compulsory_school_age_from(date_of_birth)
    if kind is SettingKind.NONE:
        if below_compulsory_age:
            return Variant.EARLY_YEARS_NO_SETTING
        return Variant.SCHOOL_AGE
    if kind is SettingKind.EARLY_YEARS and below_compulsory_age:
        return Variant.EARLY_YEARS
    if year < 0:
        return Variant.EARLY_YEARS  # a nursery class in a school
    return Variant.SCHOOL_AGE


def aged_out(
    date_of_birth: date,
    on: date,
    age_limit: int = 18,
    rule: Literal["end-of-academic-year", "birthday"] = "end-of-academic-year",
) -> bool:
    """Whether a young person has left the PEP cycle on ``on`` (see the module docstring)."""
    limit_birthday = birthday(date_of_birth, age_limit)
    if rule == "birthday":
        return on >= limit_birthday
    if rule != "end-of-academic-year":
        raise ValueError(f"unknown age-out rule {rule!r}")
    return academic_year_of(on) > academic_year_of(limit_birthday)


def pep_reference(
    child_id: str, academic_year: int, term: TermName | str, sequence: int = 1
) -> str:
    """The PEP id, e.g. ``PEP-C-0001-2026-AUT``.

    ``sequence`` > 1 adds a suffix for a second PEP in the same term (after a change of
    setting): ``PEP-C-0001-2026-AUT-2``.
    """
    if not CHILD_ID_PATTERN.match(child_id):
        raise ValueError(f"{child_id!r} is not a child id like 'C-0001'")
    if not 2000 <= academic_year <= 2999:
        raise ValueError(f"{academic_year!r} is not an academic year like 2026 (for 2026/27)")
    if sequence < 1:
        raise ValueError("sequence starts at 1")
    reference = f"PEP-{child_id}-{academic_year}-{TermName(term).code}"
    return reference if sequence == 1 else f"{reference}-{sequence}"


def parse_pep_reference(reference: str) -> tuple[str, int, TermName, int]:
    """Split a PEP id into (child id, academic year, term, sequence)."""
    match = _PEP_REFERENCE.match(reference)
    if not match:
        raise ValueError(f"{reference!r} is not a PEP reference like 'PEP-C-0001-2026-AUT'")
    child_id, year, code, sequence = match.groups()
    return child_id, int(year), TermName.from_code(code), int(sequence or 1)


# --- deadlines ------------------------------------------------------------------


_ENGLAND_WORKING_DAYS = WorkingDays()


def initial_meeting_due(
    entered_care_on: date,
    days: int = 10,
    day_kind: Literal["calendar", "working"] = "working",
    working_days: WorkingDays | None = None,
    review_working_days: int = 20,
) -> date:
    """The latest date for the initial PEP meeting.

    ``days`` after entry, counted as calendar days or working days (the council's
    setting; default working days). Never later than the initial CLA review (within
    ``review_working_days`` working days of entry, the council's setting), which the
    meeting must precede: if the count lands on or after it, the last working day
    before the review.
    ``working_days`` defaults to England bank holidays with no extra closures.
    """
    calendar = working_days or _ENGLAND_WORKING_DAYS
    if day_kind == "calendar":
        due = entered_care_on + timedelta(days=days)
    elif day_kind == "working":
        due = calendar.add_working_days(entered_care_on, days)
    else:
        raise ValueError(f"day_kind must be 'calendar' or 'working', not {day_kind!r}")
    review = initial_cla_review_due(entered_care_on, review_working_days, working_days=calendar)
    return min(due, calendar.add_working_days(review, -1))


def initial_cla_review_due(
    entered_care_on: date, days: int = 20, working_days: WorkingDays | None = None
) -> date:
    """The initial CLA review: within 20 working days of entering care."""
    return (working_days or _ENGLAND_WORKING_DAYS).add_working_days(entered_care_on, days)


# --- PEP status -------------------------------------------------------------------

_ALLOWED = {
    PepStatus.NOT_STARTED: {
        PepStatus.IN_PROGRESS,
        PepStatus.FORM_SENT,
        PepStatus.MEETING_HELD,
    },
    PepStatus.IN_PROGRESS: {PepStatus.FORM_SENT, PepStatus.MEETING_HELD},
    PepStatus.FORM_SENT: {PepStatus.FORM_RETURNED, PepStatus.MEETING_HELD},
    PepStatus.FORM_RETURNED: {PepStatus.MEETING_HELD},
    PepStatus.MEETING_HELD: {PepStatus.TYPED_UP},
    PepStatus.TYPED_UP: {PepStatus.RETURNED_FOR_CHANGES, PepStatus.FINAL},
    PepStatus.RETURNED_FOR_CHANGES: {PepStatus.TYPED_UP},
    PepStatus.FINAL: set(),
    PepStatus.CANCELLED: set(),
}


class InvalidStatusChange(ValueError):
    """A PEP status change the process does not allow."""


def check_status_change(current: PepStatus | str, new: PepStatus | str) -> None:
    """Raise :class:`InvalidStatusChange` unless a PEP may go from ``current`` to ``new``.

    Staying in the same status is allowed (idempotent workers). Any open PEP may be
    cancelled; a final or cancelled PEP never changes. The meeting never waits for the
    form, so ``form-sent`` may go straight to ``meeting-held``.
    """
    current, new = PepStatus(current), PepStatus(new)
    if current == new:
        return
    if new is PepStatus.CANCELLED and not current.is_closed:
        return
    if new not in _ALLOWED[current]:
        allowed = sorted(s.value for s in _ALLOWED[current]) + (
            [] if current.is_closed else ["cancelled"]
        )
        raise InvalidStatusChange(
            f"a PEP cannot go from {current.value!r} to {new.value!r}"
            + (f"; allowed: {', '.join(allowed)}" if allowed else "; it is closed")
        )


def setting_change_pep_due(
    changed_on: date, days: int = 10, working_days: WorkingDays | None = None
) -> date:
    """A new PEP after a change of education setting: within 10 working days."""
    return (working_days or _ENGLAND_WORKING_DAYS).add_working_days(changed_on, days)
