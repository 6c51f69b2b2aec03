"""The domain rules: owner, variant, school year, ageing out, references, deadlines."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from pepflow.calendar import WorkingDays
from pepflow.domain import (
    InvalidEmail,
    InvalidStatusChange,
    OwnerRole,
    PepStatus,
    SettingKind,
    Settings,
    TermName,
    Variant,
    age_on,
    aged_out,
    check_status_change,
    compulsory_school_age_from,
    initial_cla_review_due,
    initial_meeting_due,
    normalise_email,
    owner_role_for,
    parse_pep_reference,
    pep_reference,
    school_year,
    setting_change_pep_due,
    variant_for,
)

ON = date(2026, 9, 10)  # early in the 2026/27 academic year


@pytest.mark.parametrize(
    ("date_of_birth", "on", "expected"),
    [
        # the 1 September cut-off: 31 August is the oldest of one year, 1 September the
        # youngest of the next
        (date(2022, 8, 31), ON, 0),  # Reception
        (date(2022, 9, 1), ON, -1),  # a year below Reception
        (date(2016, 8, 31), ON, 6),
        (date(2016, 9, 1), ON, 5),
        (date(2011, 8, 31), ON, 11),
        (date(2011, 9, 1), ON, 10),
        (date(2010, 8, 31), ON, 12),
        (date(2010, 9, 1), ON, 11),
        (date(2016, 9, 1), date(2027, 8, 31), 5),  # still Year 5 on the last day
        (date(2016, 9, 1), date(2027, 9, 1), 6),  # Year 6 from 1 September
        (date(2016, 2, 29), ON, 6),
    ],
)
def test_school_year_uses_the_1_september_cut_off(date_of_birth, on, expected):
    assert school_year(date_of_birth, on) == expected


@pytest.mark.parametrize(
    ("date_of_birth", "on", "expected"),
    [
        (date(2010, 9, 10), date(2026, 9, 9), OwnerRole.SOCIAL_WORKER),  # 15, 16 tomorrow
        (date(2010, 9, 10), date(2026, 9, 10), OwnerRole.LEAVING_CARE_WORKER),  # 16 today
        (date(2008, 9, 11), ON, OwnerRole.LEAVING_CARE_WORKER),  # 17
        (date(2008, 9, 10), ON, OwnerRole.PERSONAL_ADVISER),  # 18 today
        (date(2006, 1, 1), ON, OwnerRole.PERSONAL_ADVISER),  # 20
        (date(2016, 8, 31), ON, OwnerRole.SOCIAL_WORKER),
        (date(2008, 8, 31), date(2024, 8, 31), OwnerRole.LEAVING_CARE_WORKER),
        (date(2008, 9, 1), date(2024, 8, 31), OwnerRole.SOCIAL_WORKER),
        # 29 February: the birthday is 1 March in a common year
        (date(2008, 2, 29), date(2026, 2, 28), OwnerRole.LEAVING_CARE_WORKER),
        (date(2008, 2, 29), date(2026, 3, 1), OwnerRole.PERSONAL_ADVISER),
    ],
)
def test_owner_role_by_age(date_of_birth, on, expected):
    assert owner_role_for(date_of_birth, on) is expected


@pytest.mark.parametrize(
    ("date_of_birth", "setting_kind", "expected"),
    [
        # young children: setting or not
        (date(2024, 11, 2), None, Variant.EARLY_YEARS_NO_SETTING),
        (date(2024, 11, 2), "none", Variant.EARLY_YEARS_NO_SETTING),
        (date(2023, 1, 15), SettingKind.EARLY_YEARS, Variant.EARLY_YEARS),
        (date(2022, 9, 1), SettingKind.PRIMARY, Variant.EARLY_YEARS),  # nursery class
        # Reception: 31 August / 1 September birthdays
        (date(2022, 8, 31), SettingKind.PRIMARY, Variant.SCHOOL_AGE),
        (date(2022, 8, 31), SettingKind.EARLY_YEARS, Variant.EARLY_YEARS),  # not yet 5
        (date(2022, 8, 31), None, Variant.EARLY_YEARS_NO_SETTING),  # below compulsory age
        (date(2021, 8, 31), None, Variant.SCHOOL_AGE),  # Year 1, no school: still school-age
        # Year 11 / Year 12 boundary
        (date(2011, 8, 31), SettingKind.SECONDARY, Variant.SCHOOL_AGE),
        (date(2011, 9, 1), SettingKind.SECONDARY, Variant.SCHOOL_AGE),
        (date(2010, 9, 1), SettingKind.SECONDARY, Variant.SCHOOL_AGE),  # Year 11
        (date(2010, 8, 31), SettingKind.SECONDARY, Variant.POST_16),  # Year 12 sixth form
        (date(2010, 8, 31), SettingKind.COLLEGE, Variant.POST_16),
        (date(2008, 9, 3), SettingKind.COLLEGE, Variant.POST_16),
        (date(2009, 5, 1), None, Variant.POST_16),  # not in education
        (date(2016, 5, 14), SettingKind.SPECIAL, Variant.SCHOOL_AGE),
    ],
)
def test_variant_by_school_year_and_setting(date_of_birth, setting_kind, expected):
    assert variant_for(date_of_birth, ON, setting_kind) is expected


def test_variant_changes_when_compulsory_school_age_starts():
    # born 1 Sep 2021: 5 on 1 Sep 2026, compulsory school age from 31 Dec 2026
    dob = date(2021, 9, 1)
    assert compulsory_school_age_from(dob) == date(2026, 12, 31)
    assert variant_for(dob, date(2026, 12, 30), SettingKind.EARLY_YEARS) is Variant.EARLY_YEARS
    assert variant_for(dob, date(2027, 1, 4), SettingKind.EARLY_YEARS) is Variant.SCHOOL_AGE
    assert compulsory_school_age_from(date(2021, 8, 31)) == date(2026, 8, 31)


def test_unknown_setting_kind_is_refused():
    with pytest.raises(ValueError):
        variant_for(date(2016, 1, 1), ON, "boarding")


def test_variant_knows_whether_a_setting_gives_input():
    assert not Variant.EARLY_YEARS_NO_SETTING.has_setting_input
    assert all(v.has_setting_input for v in Variant if v is not Variant.EARLY_YEARS_NO_SETTING)


@pytest.mark.parametrize(
    ("date_of_birth", "on", "expected"),
    [
        # 18 on 3 Sep 2026 (Year 13): PEPs to the end of 2026/27
        (date(2008, 9, 3), date(2026, 9, 3), False),
        (date(2008, 9, 3), date(2027, 8, 31), False),
        (date(2008, 9, 3), date(2027, 9, 1), True),
        # 18 on 31 Aug 2026: that is the last day of 2025/26
        (date(2008, 8, 31), date(2026, 8, 31), False),
        (date(2008, 8, 31), date(2026, 9, 1), True),
        # 18 on 1 Sep 2026: the first day of 2026/27
        (date(2008, 9, 1), date(2027, 8, 31), False),
        (date(2008, 9, 1), date(2027, 9, 1), True),
        (date(2010, 3, 10), ON, False),
    ],
)
def test_aged_out_at_the_end_of_the_academic_year_of_the_18th_birthday(date_of_birth, on, expected):
    assert aged_out(date_of_birth, on) is expected


def test_aged_out_on_the_birthday_when_set():
    dob = date(2008, 9, 3)
    assert not aged_out(dob, date(2026, 9, 2), rule="birthday")
    assert aged_out(dob, date(2026, 9, 3), rule="birthday")
    assert not aged_out(dob, date(2027, 9, 1), age_limit=21)
    with pytest.raises(ValueError):
        aged_out(dob, ON, rule="sometimes")


def test_age_before_birth_is_an_error():
    with pytest.raises(ValueError, match="before the date of birth"):
        age_on(date(2026, 1, 1), date(2025, 1, 1))


def test_pep_reference():
    assert pep_reference("C-0001", 2026, TermName.AUTUMN) == "PEP-C-0001-2026-AUT"
    assert pep_reference("C-0001", 2026, "spring") == "PEP-C-0001-2026-SPR"
    assert pep_reference("C-0123", 2027, "summer", sequence=2) == "PEP-C-0123-2027-SUM-2"
    assert parse_pep_reference("PEP-C-0123-2027-SUM-2") == ("C-0123", 2027, TermName.SUMMER, 2)
    assert parse_pep_reference("PEP-C-0001-2026-AUT") == ("C-0001", 2026, TermName.AUTUMN, 1)
    with pytest.raises(ValueError, match="child id"):
        pep_reference("0001", 2026, "autumn")
    with pytest.raises(ValueError):
        pep_reference("C-0001", 2026, "winter")
    with pytest.raises(ValueError):
        parse_pep_reference("PEP-C-0001-2026")


def test_initial_meeting_due_in_working_days_by_default():
    # Monday 14 Sep 2026 + 10 working days = Monday 28 Sep 2026
    assert initial_meeting_due(date(2026, 9, 14)) == date(2026, 9, 28)
    assert initial_meeting_due(date(2026, 9, 14), day_kind="calendar") == date(2026, 9, 24)
    assert initial_cla_review_due(date(2026, 9, 14)) == date(2026, 10, 12)


def test_deadlines_skip_bank_holidays_and_closures():
    # Mon 21 Dec 2026: Christmas Day (Fri) and Boxing Day substitute (Mon 28) are out
    assert initial_meeting_due(date(2026, 12, 21)) == date(2027, 1, 7)
    closures = WorkingDays(extra_closures=[date(2026, 12, 29), date(2026, 12, 30)])
    assert initial_meeting_due(date(2026, 12, 21), working_days=closures) == date(2027, 1, 11)
    assert setting_change_pep_due(date(2027, 1, 4)) == date(2027, 1, 18)


def test_initial_meeting_is_never_due_after_the_cla_review():
    entered = date(2026, 9, 14)
    review = initial_cla_review_due(entered)
    assert initial_meeting_due(entered, days=25) == date(2026, 10, 9)  # Friday before
    assert initial_meeting_due(entered, days=40, day_kind="calendar") < review
    with pytest.raises(ValueError, match="day_kind"):
        initial_meeting_due(entered, day_kind="school")


def test_settings_defaults_and_validation():
    settings = Settings()
    assert settings.initial_meeting_days == 10
    assert settings.initial_meeting_day_kind == "working"
    assert settings.initial_cla_review_working_days == 20
    assert settings.form_send_school_weeks == 3
    assert settings.age_limit == 18
    assert Settings(initial_meeting_day_kind="calendar").initial_meeting_day_kind == "calendar"
    with pytest.raises(ValidationError):
        Settings(initial_meeting_day_kind="school")
    with pytest.raises(ValidationError):
        Settings(initial_meeting_days=0)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        ("not-started", "in-progress"),
        ("in-progress", "form-sent"),
        ("form-sent", "form-returned"),
        ("form-sent", "meeting-held"),  # the meeting never waits for the form
        ("form-returned", "meeting-held"),
        ("meeting-held", "typed-up"),
        ("typed-up", "returned-for-changes"),
        ("returned-for-changes", "typed-up"),
        ("typed-up", "final"),
        ("in-progress", "cancelled"),
        ("final", "final"),
    ],
)
def test_allowed_status_changes(current, new):
    check_status_change(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        ("final", "in-progress"),
        ("cancelled", "form-sent"),
        ("meeting-held", "final"),
        ("final", "cancelled"),
        ("not-started", "typed-up"),
    ],
)
def test_refused_status_changes(current, new):
    with pytest.raises(InvalidStatusChange, match=f"from '{current}' to '{new}'"):
        check_status_change(current, new)
    assert PepStatus(current)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" Dt@Oakridge-Primary.Example.ORG ", "Dt@oakridge-primary.example.org"),
        ("first.last+pep@council.example.org", "first.last+pep@council.example.org"),
    ],
)
def test_email_addresses_are_normalised(value, expected):
    assert normalise_email(value) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "empty"),
        ("no-at-sign.example.org", "exactly one '@'"),
        ("a@b@example.org", "exactly one"),
        ("a b@example.org", "before '@'"),
        ("someone@localhost", "not a valid domain"),
        ("someone@example.123", "top-level"),
        ("someone@-bad-.example.org", "not a valid domain"),
    ],
)
def test_bad_email_addresses_are_refused_clearly(value, problem):
    with pytest.raises(InvalidEmail, match=problem):
        normalise_email(value)
