from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from pepflow.documents import PepIdentity, SchoolReturn, SettingDetails

from .helpers import content


def test_identity_term_must_fall_in_the_academic_year():
    PepIdentity(pep_reference="PEP-C-1-2027-SUM", child_id="C-1", term="Summer 2027", academic_year="2026/27")
    with pytest.raises(ValidationError):
        PepIdentity(pep_reference="PEP-C-1-2026-SUM", child_id="C-1", term="Summer 2026", academic_year="2026/27")
    with pytest.raises(ValidationError):
        PepIdentity(pep_reference="PEP-C-1", child_id="C-1", term="Autumn 2026", academic_year="2026/28")
    with pytest.raises(ValidationError):
        PepIdentity(pep_reference="not a reference", child_id="C-1", term="Autumn 2026", academic_year="2026/27")


def test_setting_must_fit_the_variant():
    c = content("school-age")
    with pytest.raises(ValidationError, match="Health Visitor"):
        c.model_validate({**c.model_dump(), "variant": "early-years-no-setting"})
    with pytest.raises(ValidationError, match="designated teacher"):
        c.model_validate({**c.model_dump(), "setting": SettingDetails(setting_name="X").model_dump()})


def test_school_return_fields_are_all_optional_and_bounded():
    assert SchoolReturn().attendance_percent is None
    SchoolReturn(attendance_percent=Decimal("100"), sdq_score=40, completed_on=date(2026, 1, 1))
    for bad in ({"attendance_percent": Decimal("101")}, {"sdq_score": 41}, {"ppp_amount": Decimal("1.005")},
                {"sen_status": "maybe"}, {"unknown": 1}):
        with pytest.raises(ValidationError):
            SchoolReturn(**bad)
