"""The school calendar: working days, school days, "N school weeks before".

Expected dates are worked out by hand (see docs/calendar.md), not computed by the code
under test. Council dates are ``england_term_dates_example``:

2026/27  autumn Thu 3 Sep - Fri 18 Dec 2026, half term 26-30 Oct, INSET Fri 27 Nov
         spring Mon 4 Jan - Thu 25 Mar 2027 (INSET Mon 4 Jan), half term 15-19 Feb
         summer Mon 12 Apr - Wed 21 Jul 2027, half term 31 May - 4 Jun
2025/26  summer Mon 13 Apr - Tue 21 Jul 2026, half term 25-29 May
"""

from __future__ import annotations

import pickle
from datetime import date, datetime

import pytest

from pepflow.calendar import (
    AcademicYearTerms,
    MissingTermDates,
    SchoolCalendar,
    Term,
    WorkingDays,
    academic_year_label,
    academic_year_of,
    england_term_dates_example,
)

D = date.fromisoformat

COUNCIL = {y: england_term_dates_example(y) for y in (2025, 2026, 2027)}

# Oakfield Primary's own 2026/27 dates: a two-week October half term, a fixed Easter
# break so Good Friday (26 Mar) and Easter Monday (29 Mar) fall in term, a late-May half
# term a week early so the 31 May bank holiday falls in term, and an INSET day on the
# first day of summer term.
OAKFIELD_2026 = AcademicYearTerms(
    academic_year=2026,
    terms=(
        Term("autumn", D("2026-09-02"), D("2026-12-18"), D("2026-10-19"), D("2026-10-30")),
        Term("spring", D("2027-01-04"), D("2027-04-01"), D("2027-02-15"), D("2027-02-19")),
        Term("summer", D("2027-04-19"), D("2027-07-16"), D("2027-05-24"), D("2027-05-28")),
    ),
    inset_days=frozenset({D("2027-04-19")}),
)


def council_calendar() -> SchoolCalendar:
    return SchoolCalendar(COUNCIL)


def oakfield_calendar() -> SchoolCalendar:
    return SchoolCalendar(COUNCIL, {2026: OAKFIELD_2026}, setting_name="Oakfield Primary")


def brook_lane_calendar() -> SchoolCalendar:
    """Council term dates plus one setting INSET day (Fri 2 Oct 2026)."""
    return SchoolCalendar(
        COUNCIL, setting_name="Brook Lane Academy", extra_inset_days=[D("2026-10-02")]
    )


CALENDARS = {
    "council": council_calendar,
    "oakfield": oakfield_calendar,
    "brook-lane": brook_lane_calendar,
}

# --------------------------------------------------------------------------- school weeks

SCHOOL_WEEKS_BEFORE = [
    # (calendar, meeting, weeks, expected, why)
    ("council", "2026-10-09", 3, "2026-09-18", "no holiday in the way: same weekday 3 weeks back"),
    ("council", "2026-11-13", 3, "2026-10-16", "October half term does not count"),
    ("council", "2026-12-04", 3, "2026-11-12", "INSET Fri 27 Nov does not count"),
    ("council", "2027-01-15", 3, "2026-12-10", "Christmas holiday and INSET Mon 4 Jan"),
    ("council", "2027-03-03", 3, "2027-02-03", "February half term"),
    ("council", "2027-04-22", 3, "2027-03-17", "Easter holiday"),
    ("council", "2027-05-14", 3, "2027-04-22", "early May bank holiday Mon 3 May"),
    ("council", "2027-06-18", 3, "2027-05-21", "late May bank holiday inside half term"),
    ("council", "2026-09-10", 3, "2026-07-08", "early autumn meeting reaches back into July"),
    ("council", "2026-10-10", 3, "2026-09-18", "Saturday meeting anchors on Friday"),
    ("council", "2026-10-28", 3, "2026-10-02", "meeting in half term anchors on Fri 23 Oct"),
    ("council", "2027-05-03", 3, "2027-03-25", "meeting on a bank holiday anchors on Fri 30 Apr"),
    ("council", "2026-11-27", 3, "2026-11-05", "meeting on an INSET day anchors on Thu 26 Nov"),
    ("council", "2026-10-09", 1, "2026-10-02", "one school week"),
    ("council", "2026-10-09", 0, "2026-10-09", "zero weeks: the meeting day itself"),
    ("council", "2026-10-10", 0, "2026-10-09", "zero weeks from a Saturday: the anchor"),
    ("oakfield", "2026-11-13", 3, "2026-10-09", "setting override: two-week October half term"),
    ("oakfield", "2026-12-04", 3, "2026-11-13", "setting override drops the council INSET day"),
    ("oakfield", "2027-04-23", 3, "2027-03-15", "Easter bank holidays in term + setting INSET"),
    ("oakfield", "2027-06-11", 3, "2027-05-13", "late May bank holiday in term, half term before"),
    ("brook-lane", "2026-10-09", 3, "2026-09-17", "setting INSET day Fri 2 Oct added"),
    ("brook-lane", "2026-11-13", 3, "2026-10-16", "setting INSET outside the window: no effect"),
]


@pytest.mark.parametrize(
    "which, meeting, weeks, expected, why",
    SCHOOL_WEEKS_BEFORE,
    ids=[f"{c[0]}-{c[1]}-{c[2]}w" for c in SCHOOL_WEEKS_BEFORE],
)
def test_school_weeks_before(which, meeting, weeks, expected, why):
    cal = CALENDARS[which]()
    result = cal.school_weeks_before(D(meeting), weeks)
    assert result == D(expected), why
    assert cal.is_school_day(result)


def test_school_weeks_before_rejects_negative_weeks():
    with pytest.raises(ValueError):
        council_calendar().school_weeks_before(D("2026-10-09"), -1)


def test_school_weeks_before_needs_the_previous_year_when_it_reaches_back():
    cal = SchoolCalendar({2026: COUNCIL[2026]}, setting_name="Oakfield Primary")
    with pytest.raises(MissingTermDates) as err:
        cal.school_weeks_before(D("2026-09-10"), 3)
    assert "Oakfield Primary" in str(err.value)
    assert "2025/26" in str(err.value)
    assert err.value.academic_year == 2025


# --------------------------------------------------------------------------- add school days

ADD_SCHOOL_DAYS = [
    ("council", "2026-10-23", 1, "2026-11-02", "over October half term"),
    ("council", "2026-11-02", -1, "2026-10-23", "back over October half term"),
    ("council", "2026-10-28", 1, "2026-11-02", "from inside half term"),
    ("council", "2026-10-28", -1, "2026-10-23", "back from inside half term"),
    ("council", "2026-10-24", 0, "2026-10-24", "n=0 returns d even on a Saturday"),
    ("council", "2026-10-24", -1, "2026-10-23", "Saturday back one"),
    ("council", "2026-11-26", 1, "2026-11-30", "over INSET Fri 27 Nov"),
    ("council", "2026-12-18", 1, "2027-01-05", "over Christmas and INSET Mon 4 Jan"),
    ("council", "2027-01-05", -1, "2026-12-18", "back over Christmas"),
    ("council", "2027-02-12", 1, "2027-02-22", "over February half term"),
    ("council", "2027-03-25", 1, "2027-04-12", "over Easter"),
    ("council", "2027-04-12", -1, "2027-03-25", "back over Easter"),
    ("council", "2027-04-30", 1, "2027-05-04", "over early May bank holiday"),
    ("council", "2027-05-28", 1, "2027-06-07", "over late May bank holiday and half term"),
    ("council", "2026-07-21", 1, "2026-09-03", "over the summer holiday into 2026/27"),
    ("council", "2026-09-03", -1, "2026-07-21", "back over the summer holiday"),
    ("council", "2026-03-27", 1, "2026-04-13", "2025/26 Easter"),
    ("council", "2026-05-01", 1, "2026-05-05", "2025/26 early May bank holiday"),
    ("council", "2028-03-31", 1, "2028-04-18", "2027/28 Easter, term starts after Easter Monday"),
    ("council", "2026-09-18", 15, "2026-10-09", "three weeks forward"),
    ("council", "2026-10-16", 15, "2026-11-13", "three weeks forward over half term"),
    ("oakfield", "2027-03-25", 1, "2027-03-30", "setting: Good Friday and Easter Monday in term"),
    ("oakfield", "2027-04-01", 1, "2027-04-20", "setting: Easter break then INSET Mon 19 Apr"),
    ("oakfield", "2027-05-21", 1, "2027-06-01", "setting: half term then 31 May bank holiday"),
    ("oakfield", "2026-10-16", 1, "2026-11-02", "setting: two-week October half term"),
    ("oakfield", "2026-11-26", 1, "2026-11-27", "setting override: council INSET not applied"),
    ("brook-lane", "2026-10-01", 1, "2026-10-05", "setting INSET day Fri 2 Oct"),
    ("brook-lane", "2026-11-26", 1, "2026-11-30", "council INSET still applies"),
]


@pytest.mark.parametrize(
    "which, start, n, expected, why",
    ADD_SCHOOL_DAYS,
    ids=[f"{c[0]}-{c[1]}{c[2]:+d}" for c in ADD_SCHOOL_DAYS],
)
def test_add_school_days(which, start, n, expected, why):
    assert CALENDARS[which]().add_school_days(D(start), n) == D(expected), why


@pytest.mark.parametrize(
    "which, start, end, expected",
    [
        ("council", "2026-10-23", "2026-11-02", 1),
        ("council", "2026-11-02", "2026-10-23", -1),
        ("council", "2026-10-09", "2026-10-09", 0),
        ("council", "2026-12-10", "2027-01-15", 15),
        ("council", "2026-07-08", "2026-09-10", 15),
        ("council", "2026-10-24", "2026-10-25", 0),
        ("oakfield", "2027-03-15", "2027-04-23", 15),
        ("brook-lane", "2026-09-17", "2026-10-09", 15),
    ],
)
def test_school_days_between(which, start, end, expected):
    assert CALENDARS[which]().school_days_between(D(start), D(end)) == expected


@pytest.mark.parametrize("which", sorted(CALENDARS))
def test_add_and_between_agree_over_a_whole_year(which):
    cal = CALENDARS[which]()
    start = D("2026-09-03")
    for n in range(0, 190, 7):
        later = cal.add_school_days(start, n)
        assert cal.school_days_between(start, later) == n
        assert cal.add_school_days(later, -n) == start


@pytest.mark.parametrize(
    "which, day, expected",
    [
        ("council", "2026-09-02", False),  # before autumn term
        ("council", "2026-09-03", True),
        ("council", "2026-10-26", False),  # half term
        ("council", "2026-11-27", False),  # INSET
        ("council", "2026-12-21", False),  # Christmas holiday
        ("council", "2027-01-04", False),  # INSET on the first day of term
        ("council", "2027-05-03", False),  # early May bank holiday in term
        ("council", "2027-07-21", True),  # last day of the year
        ("council", "2027-08-02", False),  # summer holiday
        ("oakfield", "2026-09-02", True),  # the setting starts a day earlier
        ("oakfield", "2026-10-19", False),
        ("oakfield", "2027-03-26", False),  # Good Friday in the setting's term
        ("oakfield", "2027-03-29", False),  # Easter Monday in the setting's term
        ("oakfield", "2027-03-31", True),
        ("oakfield", "2027-05-31", False),  # late May bank holiday in the setting's term
        ("brook-lane", "2026-10-02", False),
    ],
)
def test_is_school_day(which, day, expected):
    assert CALENDARS[which]().is_school_day(D(day)) is expected


# --------------------------------------------------------------------------- working days

ADD_WORKING_DAYS = [
    ("2026-12-24", 1, "2026-12-29", "Fri 25 Dec 2026, Boxing Day Sat -> substitute Mon 28"),
    ("2026-12-29", -1, "2026-12-24", "back over Christmas 2026"),
    ("2026-12-31", 1, "2027-01-04", "New Year's Day Fri 1 Jan 2027"),
    ("2027-12-23", 1, "2027-12-24", "Christmas Eve is a working day"),
    ("2027-12-24", 1, "2027-12-29", "25/26 Dec 2027 on a weekend: substitutes Mon 27, Tue 28"),
    ("2027-12-29", -1, "2027-12-24", "back over the 2027 substitutes"),
    ("2027-12-31", 1, "2028-01-04", "New Year's Day Sat 2028 -> substitute Mon 3 Jan"),
    ("2027-03-25", 1, "2027-03-30", "Good Friday 26 Mar and Easter Monday 29 Mar 2027"),
    ("2026-04-02", 1, "2026-04-07", "Good Friday 3 Apr and Easter Monday 6 Apr 2026"),
    ("2026-05-01", 1, "2026-05-05", "early May bank holiday Mon 4 May 2026"),
    ("2027-05-28", 1, "2027-06-01", "late May bank holiday 2027"),
    ("2026-12-14", 20, "2027-01-14", "initial CLA review 20 working days over Christmas"),
    ("2027-01-14", -20, "2026-12-14", "and back"),
    ("2026-12-26", 0, "2026-12-26", "n=0 returns d"),
    ("2026-12-26", 1, "2026-12-29", "from a holiday Saturday"),
    ("2026-12-26", -1, "2026-12-24", "back from a holiday Saturday"),
    ("2026-10-09", 10, "2026-10-23", "change of setting: 10 working days, no holidays"),
]


@pytest.mark.parametrize(
    "start, n, expected, why", ADD_WORKING_DAYS, ids=[f"{c[0]}{c[1]:+d}" for c in ADD_WORKING_DAYS]
)
def test_add_working_days(start, n, expected, why):
    assert WorkingDays().add_working_days(D(start), n) == D(expected), why


@pytest.mark.parametrize(
    "day, expected",
    [
        ("2026-12-25", False),
        ("2026-12-28", False),  # Boxing Day (substitute)
        ("2027-12-27", False),  # Christmas Day (substitute)
        ("2027-12-28", False),  # Boxing Day (substitute)
        ("2027-12-29", True),
        ("2028-01-03", False),  # New Year's Day (substitute)
        ("2027-03-26", False),
        ("2027-03-29", False),
        ("2026-08-31", False),  # late summer bank holiday
        ("2026-12-24", True),
        ("2026-10-10", False),  # Saturday
    ],
)
def test_is_working_day(day, expected):
    assert WorkingDays().is_working_day(D(day)) is expected


@pytest.mark.parametrize(
    "start, end, expected",
    [
        ("2026-12-24", "2026-12-29", 1),
        ("2026-12-29", "2026-12-24", -1),
        ("2026-12-18", "2027-01-15", 17),
        ("2027-12-24", "2027-12-31", 3),
        ("2026-12-14", "2027-01-14", 20),
        ("2026-10-09", "2026-10-09", 0),
    ],
)
def test_working_days_between(start, end, expected):
    assert WorkingDays().working_days_between(D(start), D(end)) == expected


def test_extra_closures():
    council = WorkingDays(extra_closures=[D("2026-12-29"), D("2026-12-30"), D("2026-12-31")])
    assert council.add_working_days(D("2026-12-24"), 1) == D("2027-01-04")
    assert not council.is_working_day(D("2026-12-30"))
    assert WorkingDays().is_working_day(D("2026-12-30"))


def test_datetimes_are_rejected():
    with pytest.raises(TypeError):
        WorkingDays().is_working_day(datetime(2026, 12, 24, 9, 0))
    with pytest.raises(TypeError):
        council_calendar().add_school_days(datetime(2026, 10, 9, 9, 0), 1)


# --------------------------------------------------------------------------- years and terms


@pytest.mark.parametrize(
    "day, year",
    [("2026-09-01", 2026), ("2027-08-31", 2026), ("2026-08-31", 2025), ("2027-01-01", 2026)],
)
def test_academic_year_of(day, year):
    assert academic_year_of(D(day)) == year


def test_academic_year_label():
    assert academic_year_label(2026) == "2026/27"
    assert academic_year_label(1999) == "1999/00"


def test_term_of():
    cal = council_calendar()
    assert cal.term_of(D("2026-10-28")).name == "autumn"  # half term is inside the term
    assert cal.term_of(D("2026-12-18")).name == "autumn"
    assert cal.term_of(D("2026-12-21")) is None
    assert cal.term_of(D("2027-03-01")).name == "spring"
    assert cal.term_of(D("2027-04-01")) is None
    assert cal.term_of(D("2027-06-01")).name == "summer"
    assert oakfield_calendar().term_of(D("2027-04-01")).name == "spring"


def test_next_term():
    cal = council_calendar()
    year, term = cal.next_term(D("2026-10-01"))
    assert (year, term.name, term.starts_on) == (2026, "spring", D("2027-01-04"))
    year, term = cal.next_term(D("2027-06-15"))
    assert (year, term.name, term.starts_on) == (2027, "autumn", D("2027-09-02"))
    year, term = cal.next_term(D("2026-08-20"))  # summer holiday of 2025/26
    assert (year, term.name) == (2026, "autumn")
    year, term = cal.next_term(D("2027-01-04"))  # strictly after: not spring itself
    assert (year, term.name) == (2026, "summer")


def test_next_term_across_a_missing_year():
    cal = SchoolCalendar({2026: COUNCIL[2026]})
    with pytest.raises(MissingTermDates, match=r"council default in 2027/28"):
        cal.next_term(D("2027-06-15"))


def test_term_dates_for_meeting():
    cal = council_calendar()
    autumn = cal.term_dates_for_meeting(D("2026-10-09"))
    assert [(y, t.name) for y, t in autumn] == [(2026, "spring"), (2026, "summer")]
    spring = cal.term_dates_for_meeting(D("2027-02-03"))
    assert [(y, t.name) for y, t in spring] == [(2026, "summer")]
    summer = cal.term_dates_for_meeting(D("2027-06-18"))
    assert [(y, t.name) for y, t in summer] == [(2027, "autumn")]


def test_setting_override_replaces_council_for_that_year_only():
    cal = oakfield_calendar()
    assert cal.terms_for(2026).terms == OAKFIELD_2026.terms
    assert cal.terms_for(2026).inset_days == {D("2027-04-19")}
    assert cal.terms_for(2027) == COUNCIL[2027]


def test_setting_inset_days_add_to_council_dates():
    cal = brook_lane_calendar()
    assert cal.terms_for(2026).inset_days == COUNCIL[2026].inset_days | {D("2026-10-02")}
    assert cal.terms_for(2027).inset_days == COUNCIL[2027].inset_days


def test_setting_inset_days_add_to_setting_dates():
    cal = SchoolCalendar(
        COUNCIL, {2026: OAKFIELD_2026}, "Oakfield Primary", extra_inset_days=[D("2026-11-20")]
    )
    assert cal.terms_for(2026).inset_days == {D("2027-04-19"), D("2026-11-20")}
    assert not cal.is_school_day(D("2026-11-20"))


@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_example_term_dates_are_realistic(year):
    terms = england_term_dates_example(year)
    autumn, spring, summer = terms.terms
    assert autumn.starts_on.month == 9 and autumn.starts_on.day <= 7
    assert autumn.half_term_starts_on.month == 10
    assert autumn.ends_on.month == 12 and autumn.ends_on.day >= 15
    assert spring.starts_on.month == 1 and spring.starts_on.day <= 7
    assert spring.half_term_starts_on.month == 2
    assert (spring.ends_on.month, spring.ends_on.day) >= (3, 20)
    assert (spring.ends_on.month, spring.ends_on.day) <= (4, 10)
    assert summer.starts_on.month == 4
    assert summer.half_term_starts_on.month == 5 and summer.half_term_starts_on.day >= 24
    assert summer.ends_on.month == 7 and summer.ends_on.day >= 15
    assert len(terms.inset_days) >= 2
    for term in terms.terms:
        assert term.starts_on.weekday() < 5 and term.ends_on.weekday() < 5
        assert term.half_term_starts_on.weekday() == 0  # Monday
        assert term.half_term_ends_on.weekday() == 4  # Friday
    for inset in terms.inset_days:
        assert inset.weekday() < 5
        assert any(t.contains(inset) and not t.in_half_term(inset) for t in terms.terms)


# --------------------------------------------------------------------------- missing dates


def test_setting_without_own_dates_falls_back_to_the_council():
    cal = SchoolCalendar(COUNCIL, setting_name="Oakfield Primary")
    assert cal.terms_for(2027) == COUNCIL[2027]
    assert cal.is_school_day(D("2028-01-10"))


def test_missing_term_dates_message_for_a_setting():
    cal = SchoolCalendar({2026: COUNCIL[2026]}, setting_name="Oakfield Primary")
    with pytest.raises(MissingTermDates) as err:
        cal.is_school_day(D("2028-01-10"))
    message = str(err.value)
    assert message.startswith(
        "No term dates for Oakfield Primary (setting) in 2027/28: "
        "load them with `pep import term-dates`"
    )
    assert err.value.academic_year == 2027
    assert err.value.setting_name == "Oakfield Primary"
    assert isinstance(err.value, LookupError)


def test_missing_term_dates_message_for_the_council_default():
    cal = SchoolCalendar({})
    with pytest.raises(MissingTermDates) as err:
        cal.add_school_days(D("2026-10-09"), 1)
    assert str(err.value) == (
        "No term dates for council default in 2026/27: load them with `pep import term-dates`"
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.terms_for(2030),
        lambda c: c.is_school_day(D("2030-10-01")),
        lambda c: c.add_school_days(D("2030-10-01"), 3),
        lambda c: c.school_days_between(D("2030-10-01"), D("2030-10-08")),
        lambda c: c.school_weeks_before(D("2030-10-20"), 3),
        lambda c: c.term_of(D("2030-10-01")),
        lambda c: c.next_term(D("2030-10-01")),
    ],
)
def test_every_calculation_raises_missing_term_dates(call):
    with pytest.raises(MissingTermDates, match=r"Oakfield Primary \(setting\) in 2030/31"):
        call(oakfield_calendar())


@pytest.mark.parametrize("year", [2024, 2028])
def test_example_term_dates_only_for_three_years(year):
    with pytest.raises(MissingTermDates, match=academic_year_label(year)):
        england_term_dates_example(year)


def test_missing_term_dates_pickles():
    err = pickle.loads(pickle.dumps(MissingTermDates(2027, "Oakfield Primary")))
    assert str(err) == str(MissingTermDates(2027, "Oakfield Primary"))


# --------------------------------------------------------------------------- validation


def _terms(**overrides):
    base = dict(england_term_dates_example(2026).__dict__)
    base.update(overrides)
    return AcademicYearTerms(**base)


def test_terms_must_be_in_order():
    autumn, spring, summer = england_term_dates_example(2026).terms
    with pytest.raises(ValueError, match="autumn, spring, summer"):
        _terms(terms=(spring, autumn, summer))


def test_terms_must_lie_in_their_academic_year():
    with pytest.raises(ValueError, match="outside the academic year"):
        _terms(academic_year=2025)


def test_half_term_must_lie_inside_the_term():
    with pytest.raises(ValueError, match="inside the term"):
        Term("autumn", D("2026-09-03"), D("2026-12-18"), D("2026-12-21"), D("2026-12-23"))
    with pytest.raises(ValueError, match="both half-term dates"):
        Term("autumn", D("2026-09-03"), D("2026-12-18"), D("2026-10-26"), None)


def test_term_dates_filed_under_the_wrong_year_are_rejected():
    with pytest.raises(ValueError, match="filed under"):
        SchoolCalendar({2025: england_term_dates_example(2026)})
