"""The one rule for PEP meeting dates (pepflow/domain/meeting_dates.py)."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pepflow.calendar import SchoolCalendar, WorkingDays, england_term_dates_example
from pepflow.domain.meeting_dates import (
    BANK_HOLIDAY,
    HALF_TERM,
    INSET_DAY,
    NO_TERM_DATES,
    PAST,
    SCHOOL_HOLIDAY,
    WEEKEND,
    MeetingDateRefused,
    MeetingPlace,
    check_meeting_day,
    is_valid_day,
    last_valid_day_on_or_before,
    next_valid_day,
)

COUNCIL = {y: england_term_dates_example(y) for y in (2026, 2027)}
SCHOOL = MeetingPlace(SchoolCalendar(COUNCIL, setting_name="Oakridge Primary"), WorkingDays(), "Oakridge Primary")
NO_SETTING = MeetingPlace(None, WorkingDays(), "a working day")
TODAY = date(2026, 9, 14)


def refusal(day: date, place: MeetingPlace = SCHOOL, today: date = TODAY) -> MeetingDateRefused:
    with pytest.raises(MeetingDateRefused) as caught:
        check_meeting_day(day, place, today=today)
    return caught.value


def test_a_school_day_in_term_is_accepted():
    check_meeting_day(date(2026, 10, 7), SCHOOL, today=TODAY)


def test_christmas_day_is_refused_naming_the_holiday_and_the_next_school_day():
    refused = refusal(date(2026, 12, 25))
    assert refused.code == BANK_HOLIDAY
    assert "Christmas Day" in str(refused)
    # 4 January 2027 is an INSET day in the example dates: the next school day is the 5th
    assert refused.next_valid == date(2027, 1, 5)
    assert "Tuesday 5 January 2027" in str(refused)


def test_each_kind_of_closed_day_has_its_own_reason():
    assert refusal(date(2026, 10, 10)).code == WEEKEND  # a Saturday
    assert refusal(date(2026, 10, 28)).code == HALF_TERM
    assert refusal(date(2026, 11, 27)).code == INSET_DAY
    assert refusal(date(2026, 12, 30)).code == SCHOOL_HOLIDAY  # what a change of school once picked
    assert refusal(date(2027, 5, 31)).code == BANK_HOLIDAY  # spring bank holiday, also half term


def test_a_day_in_the_past_is_refused_with_the_next_valid_day_from_today():
    refused = refusal(date(2026, 9, 11))
    assert refused.code == PAST
    assert refused.next_valid == TODAY


def test_no_setting_means_working_days_holidays_included():
    check_meeting_day(date(2026, 12, 30), NO_SETTING, today=TODAY)  # a working day in the school holidays
    assert refusal(date(2026, 12, 28), NO_SETTING).code == BANK_HOLIDAY  # Boxing Day substitute


def test_a_year_without_term_dates_is_refused_naming_setting_and_year():
    refused = refusal(date(2028, 10, 4))
    assert refused.code == NO_TERM_DATES
    assert "Oakridge Primary" in str(refused) and "2028/29" in str(refused)
    assert refused.next_valid is None


def test_last_valid_day_keeps_a_deadline_that_falls_in_the_holidays():
    # a new PEP due by 30 December: the last school day before it is 18 December
    assert last_valid_day_on_or_before(date(2026, 12, 30), SCHOOL, not_before=date(2026, 12, 14)) == date(2026, 12, 18)
    assert last_valid_day_on_or_before(date(2026, 12, 30), SCHOOL, not_before=date(2026, 12, 21)) is None


@given(st.dates(min_value=date(2026, 9, 1), max_value=date(2027, 8, 20)))
def test_next_valid_day_is_valid_and_nothing_valid_is_skipped(day):
    chosen = next_valid_day(day, SCHOOL)
    assert chosen >= day and is_valid_day(chosen, SCHOOL)
    for offset in range((chosen - day).days):
        assert not is_valid_day(day + timedelta(days=offset), SCHOOL)
