"""What a PEP document says, independent of any database or file format.

The social worker's part (:class:`PepFormContent`) goes out in the Word form; the
designated teacher's part (:class:`SchoolReturn`) comes back in it; the meeting
record (:class:`MeetingRecord`) is added at the meeting. The form carries the PEP's
identity and an HMAC check value so a returned file can be matched to the PEP it was
sent for (:func:`form_check_value`).
"""

from __future__ import annotations

import hashlib
import hmac
import datetime as dt
import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Variant = Literal["early-years", "school-age", "post-16", "early-years-no-setting"]
VARIANTS: tuple[Variant, ...] = ("early-years", "school-age", "post-16", "early-years-no-setting")

SenStatus = Literal["none", "sen-support", "ehc-assessment", "ehcp"]
#: Display text of each SEN status in the form's drop-down, in list order.
SEN_STATUS_LABELS: dict[str, str] = {
    "none": "No identified SEN",
    "sen-support": "SEN Support",
    "ehc-assessment": "EHC needs assessment in progress",
    "ehcp": "EHC plan",
}

PEP_REFERENCE_PATTERN = r"^PEP-[A-Z0-9][A-Z0-9-]{0,60}$"
CHECK_VALUE_HEX_CHARS = 20  # 80 bits of HMAC-SHA256


def form_check_value(pep_reference: str, secret: bytes) -> str:
    """The check value printed on a PEP form: HMAC-SHA256 of the reference, truncated, hex.

    Only holders of ``secret`` can produce it, so a returned file whose reference and
    check value agree was issued by us for that PEP.
    """
    if not isinstance(secret, (bytes, bytearray)) or len(secret) < 16:
        raise ValueError("the form secret must be at least 16 bytes")
    mac = hmac.new(bytes(secret), pep_reference.encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()[:CHECK_VALUE_HEX_CHARS]


def check_value_matches(pep_reference: str, check_value: str, secret: bytes) -> bool:
    """Constant-time comparison of a check value read from a file."""
    expected = form_check_value(pep_reference, secret)
    return hmac.compare_digest(expected, check_value.strip().lower())


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Text = Annotated[str, Field(min_length=1, max_length=20_000)]
ShortText = Annotated[str, Field(min_length=1, max_length=300)]


class PepIdentity(_Model):
    """Which PEP a document belongs to. Identifiers only, no personal details."""

    pep_reference: Annotated[str, Field(pattern=PEP_REFERENCE_PATTERN)]
    child_id: ShortText
    term: Annotated[str, Field(pattern=r"^(Autumn|Spring|Summer) \d{4}$")]
    academic_year: Annotated[str, Field(pattern=r"^\d{4}/\d{2}$")]

    @model_validator(mode="after")
    def _year_is_consecutive(self) -> PepIdentity:
        start, end = self.academic_year.split("/")
        if (int(start) + 1) % 100 != int(end):
            raise ValueError(f"academic year {self.academic_year!r} is not two consecutive years")
        season, year = self.term.split()
        if int(year) != int(start) + (0 if season == "Autumn" else 1):
            raise ValueError(f"{self.term} is not in academic year {self.academic_year}")
        return self


class ChildDetails(_Model):
    name: ShortText
    date_of_birth: date
    legal_status: ShortText  # e.g. "S31 Care Order", "S20 Accommodated"
    carer_name: ShortText
    placement_type: ShortText  # e.g. "Foster care (in-house)"
    year_group: Annotated[str, Field(max_length=40)] | None = None  # "Year 9", "Reception", "Year 12"
    upn: Annotated[str, Field(max_length=13)] | None = None  # unique pupil number, if known

    def national_curriculum_year(self) -> int | None:
        """The year group as a number (Reception = 0), if it names one."""
        if self.year_group is None:
            return None
        if self.year_group.lower().startswith("reception"):
            return 0
        m = re.search(r"\d+", self.year_group)
        return int(m.group()) if m else None


class SocialWorkerPart(_Model):
    owner_role: ShortText = "Social worker"  # or "Leaving Care Worker", "Personal Adviser"
    owner_name: ShortText
    team: Annotated[str, Field(max_length=300)] | None = None
    strengths: Text | None = None
    needs: Text | None = None
    development_knowledge: Text | None = None  # early-years-no-setting: what the SW knows


class SettingDetails(_Model):
    setting_name: ShortText | None = None
    designated_teacher_name: ShortText | None = None
    health_visitor_name: ShortText | None = None  # early-years-no-setting
    carers_names: ShortText | None = None  # early-years-no-setting (and parents if appropriate)


class MeetingArrangements(_Model):
    date: dt.date
    time: dt.time | None = None
    venue: ShortText | None = None


class PepFormContent(_Model):
    """The social worker's side of the form: prefilled and locked in the Word file."""

    variant: Variant
    child: ChildDetails
    social_worker: SocialWorkerPart
    setting: SettingDetails
    meeting: MeetingArrangements

    @model_validator(mode="after")
    def _setting_fits_variant(self) -> PepFormContent:
        if self.variant == "early-years-no-setting":
            if not self.setting.health_visitor_name:
                raise ValueError("a PEP for a child without a setting is addressed to a Health Visitor")
        else:
            if not (self.setting.setting_name and self.setting.designated_teacher_name):
                raise ValueError("a PEP with an education setting needs its name and the designated teacher")
        return self


class SmartTarget(_Model):
    target: Text
    who: ShortText | None = None
    by_when: date | None = None


class SchoolReturn(_Model):
    """The designated teacher's part (or Health Visitor's and carers'). Every field optional."""

    completed_by: ShortText | None = None
    completed_on: date | None = None
    # attendance and exclusions
    attendance_percent: Annotated[Decimal, Field(ge=0, le=100)] | None = None
    sessions_missed: Annotated[int, Field(ge=0, le=1000)] | None = None
    exclusions_count: Annotated[int, Field(ge=0, le=1000)] | None = None
    exclusion_days: Annotated[Decimal, Field(ge=0, le=1000)] | None = None
    reduced_timetable: bool | None = None
    # learning
    attainment: Text | None = None
    progress: Text | None = None
    sen_status: SenStatus | None = None
    # early years development (EYFS areas of learning)
    eyfs_communication_language: Text | None = None
    eyfs_physical: Text | None = None
    eyfs_personal_social_emotional: Text | None = None
    eyfs_literacy: Text | None = None
    eyfs_mathematics: Text | None = None
    eyfs_understanding_world: Text | None = None
    eyfs_expressive_arts: Text | None = None
    two_year_review_date: date | None = None  # no setting: Health Visitor's 2-year review
    early_years_place_sought: bool | None = None  # no setting: e.g. funded 2-year-old place
    # well-being and views
    wellbeing: Text | None = None
    sdq_score: Annotated[int, Field(ge=0, le=40)] | None = None
    child_views: Text | None = None
    carer_views: Text | None = None
    # targets and funding
    targets: list[SmartTarget] = Field(default_factory=list)
    ppp_use: Text | None = None
    ppp_amount: Annotated[Decimal, Field(ge=0, le=100_000)] | None = None
    # post-16 and transition
    course: Text | None = None
    neet_risk: bool | None = None
    bursary_applied: bool | None = None
    transition_careers: Text | None = None

    @field_validator("attendance_percent", "exclusion_days", "ppp_amount")
    @classmethod
    def _two_places(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and v.as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValueError("at most two decimal places")
        return v


class Attendee(_Model):
    name: ShortText
    role: ShortText | None = None


class AgreedAction(_Model):
    action: Text
    who: ShortText | None = None
    by_when: date | None = None


class MeetingRecord(_Model):
    held_on: date | None = None
    attendees: list[Attendee] = Field(default_factory=list)
    updates_agreed: Text | None = None
    actions: list[AgreedAction] = Field(default_factory=list)
    next_meeting_dates: list[date] = Field(default_factory=list)
