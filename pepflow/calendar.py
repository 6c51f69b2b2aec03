"""The school calendar: working days, school days and "N school weeks before".

A pure domain module: no database, no wall-clock reads. Everything takes dates in and
gives dates out, so a simulated academic year and the tests get the same answers as
production.

Two kinds of day
----------------
* **Working day** (:class:`WorkingDays`): Monday to Friday, minus England bank holidays
  (``holidays.country_holidays("GB", subdiv="ENG")``, substitute days included), minus
  any extra closures a council configures. Used for the statutory clocks (initial CLA
  review within 20 working days, a new PEP within 10 working days of a change of
  setting).
* **School day** (:class:`SchoolCalendar`): a working day (as above, without the extra
  closures) that lies inside a term, outside that term's half term, and is not an INSET
  day. Term dates are data: the council supplies a default per academic year; a setting
  may supply its own, which replace the council's for that year; a setting's INSET days
  are added to whichever term dates apply.

The "N school weeks before D" rule
----------------------------------
:meth:`SchoolCalendar.school_weeks_before` is the one rule the product uses for "the
Word form goes to the DT three school weeks before the meeting":

1. The *anchor* is D if D is a school day; otherwise the last school day before D
   (a meeting on a Saturday, in half term, on a bank holiday or an INSET day is
   anchored to the last school day before it).
2. Count back N x 5 school days from the anchor. The answer is the school day reached.

Holidays, half terms, bank holidays and INSET days therefore never count as school
time. With no holiday in the way the answer is the same weekday N calendar weeks
earlier; each non-school weekday in the window pushes it one school day further back.
The answer is always a school day. The count may cross into the previous academic year
(a meeting in early September reaches back into July); if the term dates needed were
never loaded, :class:`MissingTermDates` is raised rather than a guess being made.
Worked examples are in ``docs/calendar.md``.

Conventions shared by both kinds of day
---------------------------------------
* ``add_*_days(d, n)`` steps n qualifying days forward from d (backward when n < 0);
  d itself is never counted and need not qualify; ``n == 0`` returns d unchanged.
* ``*_days_between(start, end)`` counts qualifying days in the half-open range
  (start, end]; it is negative (the count of (end, start]) when end < start. For a
  qualifying ``d``: ``*_days_between(d, add_*_days(d, n)) == n``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal

import holidays

__all__ = [
    "AcademicYearTerms",
    "MissingTermDates",
    "SchoolCalendar",
    "Term",
    "TermName",
    "WorkingDays",
    "academic_year_label",
    "academic_year_of",
    "england_bank_holidays",
    "england_term_dates_example",
]

TermName = Literal["autumn", "spring", "summer"]
TERM_ORDER: tuple[TermName, ...] = ("autumn", "spring", "summer")
IMPORT_HINT = "load them with `pep import term-dates`"

# A year with loaded terms always has school days; this bounds every day-by-day walk so
# a malformed calendar can never loop for ever.
_MAX_DAYS_WITHOUT_SCHOOL_DAY = 400

_ONE_DAY = timedelta(days=1)


def _check_date(d: object, what: str = "date") -> date:
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"{what} must be a datetime.date (not a datetime), got {d!r}")
    return d


# --------------------------------------------------------------------------- years


def academic_year_of(d: date) -> int:
    """The academic year containing ``d``, named by the calendar year it starts in.

    1 September starts the academic year: 2026-09-01 -> 2026, 2027-08-31 -> 2026.
    """
    _check_date(d)
    return d.year if d.month >= 9 else d.year - 1


def academic_year_label(academic_year: int) -> str:
    """2026 -> "2026/27"."""
    return f"{academic_year}/{(academic_year + 1) % 100:02d}"


def _academic_year_bounds(academic_year: int) -> tuple[date, date]:
    return date(academic_year, 9, 1), date(academic_year + 1, 8, 31)


class MissingTermDates(LookupError):
    """A calculation needed term dates that nobody loaded.

    The message names the setting (or "council default") and the academic year, e.g.
    "No term dates for Oakfield Primary (setting) in 2027/28: load them with
    `pep import term-dates` (neither the setting nor the council default has them)".
    """

    def __init__(self, academic_year: int, setting_name: str | None = None) -> None:
        self.academic_year = academic_year
        self.setting_name = setting_name
        who = f"{setting_name} (setting)" if setting_name else "council default"
        message = f"No term dates for {who} in {academic_year_label(academic_year)}: {IMPORT_HINT}"
        if setting_name:
            message += " (neither the setting nor the council default has them)"
        super().__init__(message)

    def __reduce__(self):  # keep it picklable despite the custom signature
        return (type(self), (self.academic_year, self.setting_name))


# --------------------------------------------------------------------------- term data


@dataclass(frozen=True)
class Term:
    """One term of an academic year.

    ``starts_on``/``ends_on`` are the first and last day of the term (inclusive). An
    INSET day may fall on either; it is then not a school day. ``half_term_starts_on``/
    ``half_term_ends_on`` are an inclusive holiday range inside the term (both or
    neither).
    """

    name: TermName
    starts_on: date
    ends_on: date
    half_term_starts_on: date | None = None
    half_term_ends_on: date | None = None

    def __post_init__(self) -> None:
        if self.name not in TERM_ORDER:
            raise ValueError(f"term name must be one of {TERM_ORDER}, got {self.name!r}")
        _check_date(self.starts_on, "starts_on")
        _check_date(self.ends_on, "ends_on")
        if self.ends_on < self.starts_on:
            raise ValueError(
                f"{self.name} term ends ({self.ends_on}) before it starts ({self.starts_on})"
            )
        hs, he = self.half_term_starts_on, self.half_term_ends_on
        if (hs is None) != (he is None):
            raise ValueError(f"{self.name} term: give both half-term dates or neither")
        if hs is not None and he is not None:
            _check_date(hs, "half_term_starts_on")
            _check_date(he, "half_term_ends_on")
            if he < hs:
                raise ValueError(f"{self.name} half term ends ({he}) before it starts ({hs})")
            if hs <= self.starts_on or he >= self.ends_on:
                raise ValueError(
                    f"{self.name} half term {hs}..{he} must lie strictly inside the term "
                    f"{self.starts_on}..{self.ends_on}"
                )

    def contains(self, d: date) -> bool:
        """True from the first to the last day of term, half term included."""
        return self.starts_on <= d <= self.ends_on

    def in_half_term(self, d: date) -> bool:
        return (
            self.half_term_starts_on is not None
            and self.half_term_ends_on is not None
            and self.half_term_starts_on <= d <= self.half_term_ends_on
        )


@dataclass(frozen=True)
class AcademicYearTerms:
    """The term dates of one academic year (``academic_year`` 2026 means 2026/27)."""

    academic_year: int
    terms: tuple[Term, ...]
    inset_days: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Accept any iterable for convenience, but store the declared immutable types.
        object.__setattr__(self, "terms", tuple(self.terms))
        object.__setattr__(self, "inset_days", frozenset(self.inset_days))
        label = academic_year_label(self.academic_year)
        names = tuple(t.name for t in self.terms)
        if names != TERM_ORDER:
            raise ValueError(f"{label}: terms must be autumn, spring, summer in order, got {names}")
        first, last = _academic_year_bounds(self.academic_year)
        for term in self.terms:
            if term.starts_on < first or term.ends_on > last:
                raise ValueError(
                    f"{label}: {term.name} term {term.starts_on}..{term.ends_on} is outside "
                    f"the academic year {first}..{last}"
                )
        for earlier, later in zip(self.terms, self.terms[1:]):
            if later.starts_on <= earlier.ends_on:
                raise ValueError(
                    f"{label}: {later.name} term starts before {earlier.name} term ends"
                )
        for d in self.inset_days:
            _check_date(d, "INSET day")

    def term_named(self, name: TermName) -> Term:
        for term in self.terms:
            if term.name == name:
                return term
        raise KeyError(name)  # pragma: no cover - validation guarantees all three


# --------------------------------------------------------------------------- working days


@lru_cache(maxsize=64)
def _bank_holidays_in(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def england_bank_holidays(year: int) -> frozenset[date]:
    """England bank holidays in a calendar year, substitute days included."""
    return _bank_holidays_in(year)


def _is_weekday_not_bank_holiday(d: date) -> bool:
    return d.weekday() < 5 and d not in _bank_holidays_in(d.year)


def _sign(n: int) -> int:
    return 1 if n > 0 else -1


class WorkingDays:
    """Monday to Friday minus England bank holidays (substitutes included) and any
    ``extra_closures`` (e.g. a council's closure days between Christmas and New Year).
    """

    def __init__(self, extra_closures: Iterable[date] = ()) -> None:
        self._closures = frozenset(_check_date(d, "closure") for d in extra_closures)

    def is_working_day(self, d: date) -> bool:
        _check_date(d)
        return _is_weekday_not_bank_holiday(d) and d not in self._closures

    def add_working_days(self, d: date, n: int) -> date:
        """Step ``n`` working days from ``d`` (back when negative); ``n == 0`` returns ``d``."""
        return _step(self.is_working_day, _check_date(d), n)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end < start."""
        return _count_between(self.is_working_day, _check_date(start), _check_date(end))


def _step(is_day, d: date, n: int) -> date:
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"n must be an int, got {n!r}")
    step = _ONE_DAY * _sign(n)
    remaining = abs(n)
    gap = 0
    while remaining:
        d += step
        if is_day(d):
            remaining -= 1
            gap = 0
        else:
            gap += 1
            if gap > _MAX_DAYS_WITHOUT_SCHOOL_DAY:
                raise ValueError(f"no qualifying day within {gap} days of {d - step * gap}")
    return d


def _count_between(is_day, start: date, end: date) -> int:
    if end < start:
        return -_count_between(is_day, end, start)
    count = 0
    d = start + _ONE_DAY
    while d <= end:
        if is_day(d):
            count += 1
        d += _ONE_DAY
    return count


# --------------------------------------------------------------------------- school days


class SchoolCalendar:
    """School days for one setting (or the council default when no setting is named).

    ``council_years`` are the council's published term dates by academic year (the
    fallback). ``setting_years``, when present for a year, replace the council's dates
    for that year entirely (including its INSET days). ``extra_inset_days`` are the
    setting's INSET days, added to whichever term dates apply.

    Any question about a date in an academic year with no term dates raises
    :class:`MissingTermDates`.
    """

    def __init__(
        self,
        council_years: Mapping[int, AcademicYearTerms],
        setting_years: Mapping[int, AcademicYearTerms] | None = None,
        setting_name: str | None = None,
        extra_inset_days: Iterable[date] = (),
    ) -> None:
        self._council = dict(council_years)
        self._setting = dict(setting_years or {})
        for source in (self._council, self._setting):
            for year, terms in source.items():
                if terms.academic_year != year:
                    raise ValueError(
                        f"term dates for {academic_year_label(terms.academic_year)} "
                        f"filed under {academic_year_label(year)}"
                    )
        self.setting_name = setting_name
        self._extra_inset = frozenset(_check_date(d, "INSET day") for d in extra_inset_days)
        self._effective: dict[int, AcademicYearTerms] = {}

    # -- term data

    def terms_for(self, academic_year: int) -> AcademicYearTerms:
        """The term dates that apply in ``academic_year`` (setting first, then council),
        with the setting's extra INSET days merged in. Raises :class:`MissingTermDates`."""
        cached = self._effective.get(academic_year)
        if cached is not None:
            return cached
        base = self._setting.get(academic_year)
        if base is None:
            base = self._council.get(academic_year)
        if base is None:
            raise MissingTermDates(academic_year, self.setting_name)
        first, last = _academic_year_bounds(academic_year)
        extra = {d for d in self._extra_inset if first <= d <= last}
        effective = AcademicYearTerms(
            academic_year=academic_year,
            terms=base.terms,
            inset_days=base.inset_days | extra,
        )
        self._effective[academic_year] = effective
        return effective

    def term_of(self, d: date) -> Term | None:
        """The term whose first-to-last-day span contains ``d`` (half term counts as in
        the term); ``None`` in the Christmas, Easter and summer holidays."""
        for term in self.terms_for(academic_year_of(d)).terms:
            if term.contains(d):
                return term
        return None

    def next_term(self, d: date) -> tuple[int, Term]:
        """The first term starting strictly after ``d``, with its academic year. After
        the spring term starts this is summer; after summer starts, next year's autumn."""
        year = academic_year_of(d)
        for term in self.terms_for(year).terms:
            if term.starts_on > d:
                return year, term
        return year + 1, self.terms_for(year + 1).terms[0]

    def term_dates_for_meeting(self, d: date) -> tuple[tuple[int, Term], ...]:
        """The terms whose PEP dates are set at a PEP meeting held on ``d``.

        Flowchart box 5: the remaining PEPs of the current academic year (terms that
        start after ``d``); at a summer meeting (no terms left) the next autumn term.
        """
        year = academic_year_of(d)
        remaining = tuple((year, t) for t in self.terms_for(year).terms if t.starts_on > d)
        if remaining:
            return remaining
        return ((year + 1, self.terms_for(year + 1).terms[0]),)

    # -- school days

    def is_school_day(self, d: date) -> bool:
        """In a term, not in its half term, not a weekend, bank holiday or INSET day."""
        _check_date(d)
        year_terms = self.terms_for(academic_year_of(d))
        if not _is_weekday_not_bank_holiday(d) or d in year_terms.inset_days:
            return False
        return any(t.contains(d) and not t.in_half_term(d) for t in year_terms.terms)

    def add_school_days(self, d: date, n: int) -> date:
        """Step ``n`` school days from ``d`` (back when negative); ``d`` itself is not
        counted and need not be a school day; ``n == 0`` returns ``d``."""
        return _step(self.is_school_day, _check_date(d), n)

    def school_days_between(self, start: date, end: date) -> int:
        """School days in (start, end]; negative when end < start."""
        return _count_between(self.is_school_day, _check_date(start), _check_date(end))

    def last_school_day_on_or_before(self, d: date) -> date:
        _check_date(d)
        return d if self.is_school_day(d) else self.add_school_days(d, -1)

    def school_weeks_before(self, d: date, weeks: int) -> date:
        """THE rule for "N school weeks before D" (e.g. the form goes to the DT three
        school weeks before the meeting).

        Anchor on D if it is a school day, else on the last school day before D; then
        count back ``weeks * 5`` school days. Holidays, half terms, bank holidays and
        INSET days are not school time. The result is always a school day (the anchor
        itself when ``weeks == 0``). See ``docs/calendar.md`` for worked examples.
        """
        if not isinstance(weeks, int) or isinstance(weeks, bool) or weeks < 0:
            raise ValueError(f"weeks must be a non-negative int, got {weeks!r}")
        anchor = self.last_school_day_on_or_before(d)
        return self.add_school_days(anchor, -5 * weeks)

    def school_days(self, start: date, end: date) -> Iterator[date]:
        """School days in [start, end], in order."""
        d = _check_date(start)
        while d <= end:
            if self.is_school_day(d):
                yield d
            d += _ONE_DAY


# --------------------------------------------------------------------------- example data


def _term(name: TermName, start: str, end: str, ht_start: str, ht_end: str) -> Term:
    return Term(
        name=name,
        starts_on=date.fromisoformat(start),
        ends_on=date.fromisoformat(end),
        half_term_starts_on=date.fromisoformat(ht_start),
        half_term_ends_on=date.fromisoformat(ht_end),
    )


def _year(academic_year: int, terms: tuple[Term, ...], inset: tuple[str, ...]) -> AcademicYearTerms:
    return AcademicYearTerms(academic_year, terms, frozenset(date.fromisoformat(s) for s in inset))


_EXAMPLE_YEARS: dict[int, AcademicYearTerms] = {
    2025: _year(
        2025,
        (
            _term("autumn", "2025-09-03", "2025-12-19", "2025-10-27", "2025-10-31"),
            _term("spring", "2026-01-05", "2026-03-27", "2026-02-16", "2026-02-20"),
            _term("summer", "2026-04-13", "2026-07-21", "2026-05-25", "2026-05-29"),
        ),
        ("2025-11-21", "2026-01-05"),
    ),
    2026: _year(
        2026,
        (
            _term("autumn", "2026-09-03", "2026-12-18", "2026-10-26", "2026-10-30"),
            _term("spring", "2027-01-04", "2027-03-25", "2027-02-15", "2027-02-19"),
            _term("summer", "2027-04-12", "2027-07-21", "2027-05-31", "2027-06-04"),
        ),
        ("2026-11-27", "2027-01-04"),
    ),
    2027: _year(
        2027,
        (
            _term("autumn", "2027-09-02", "2027-12-17", "2027-10-25", "2027-10-29"),
            _term("spring", "2028-01-04", "2028-03-31", "2028-02-14", "2028-02-18"),
            _term("summer", "2028-04-18", "2028-07-21", "2028-05-29", "2028-06-02"),
        ),
        ("2027-10-22", "2028-06-05"),
    ),
}


def england_term_dates_example(academic_year: int) -> AcademicYearTerms:
    """Plausible fictional council term dates for 2025/26, 2026/27 and 2027/28.

    For demo data and tests only. Other years raise :class:`MissingTermDates`.
    """
    try:
        return _EXAMPLE_YEARS[academic_year]
    except KeyError:
        raise MissingTermDates(academic_year) from None
