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

PepReview = Literal["initial", "termly"]
#: Special educational needs: the primary need, as the school census (SEN2) records it.
PRIMARY_NEED_LABELS: dict[str, str] = {
    "SPLD": "Specific learning difficulty",
    "MLD": "Moderate learning difficulty",
    "SLD": "Severe learning difficulty",
    "PMLD": "Profound and multiple learning difficulty",
    "SEMH": "Social, emotional and mental health",
    "SLCN": "Speech, language and communication needs",
    "HI": "Hearing impairment",
    "VI": "Visual impairment",
    "MSI": "Multi-sensory impairment",
    "PD": "Physical disability",
    "ASD": "Autistic spectrum disorder",
    "OTH": "Other difficulty or disability",
}
TARGET_OUTCOME_LABELS: dict[str, str] = {
    "achieved": "Achieved",
    "partly-achieved": "Partly achieved",
    "not-achieved": "Not yet achieved",
    "no-longer-relevant": "No longer relevant",
}
ATTENDANCE_LABELS: dict[str, str] = {
    "attended": "Attended",
    "apologies": "Sent apologies",
    "did-not-attend": "Did not attend",
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

    def year_from_date_of_birth(self, on: date) -> int:
        """The national curriculum year a child born on this date is in on ``on``
        (Reception = 0, negative before Reception): a year group starts on 1 September
        with the children who turn 5 by the following 31 August."""
        cohort = self.date_of_birth.year if self.date_of_birth.month >= 9 else self.date_of_birth.year - 1
        academic_year = on.year if on.month >= 9 else on.year - 1
        return academic_year - cohort - 5


class SocialWorkerPart(_Model):
    owner_role: ShortText = "Social worker"  # or "Leaving Care Worker", "Personal Adviser"
    owner_name: ShortText
    team: Annotated[str, Field(max_length=300)] | None = None
    strengths: Text | None = None
    needs: Text | None = None
    development_knowledge: Text | None = None  # early-years-no-setting: what the SW knows
    # the care context
    date_into_care: date | None = None
    placement_moves: Annotated[int, Field(ge=0, le=200)] | None = None  # in the last 12 months
    school_moves: Annotated[int, Field(ge=0, le=200)] | None = None  # since coming into care
    delegated_authority: Text | None = None  # what the carers may consent to
    health: Text | None = None  # health needs, latest health assessment


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
    """The social worker's side of the form: prefilled and locked in the Word file.

    ``review`` is the child's first (initial) PEP or a termly review; ``not_on_roll`` a
    school-age child or young person with no school or college (education otherwise than
    at school, awaiting a place, not in education or training); ``previous`` the last
    PEP's return, carried forward for the school to review rather than retype."""

    variant: Variant
    child: ChildDetails
    social_worker: SocialWorkerPart
    setting: SettingDetails
    meeting: MeetingArrangements
    review: PepReview = "termly"
    not_on_roll: bool = False
    previous: SchoolReturn | None = None
    previous_term: Annotated[str, Field(pattern=r"^(Autumn|Spring|Summer) \d{4}$")] | None = None

    @model_validator(mode="after")
    def _setting_fits_variant(self) -> PepFormContent:
        if self.variant == "early-years-no-setting":
            if not self.setting.health_visitor_name:
                raise ValueError("a PEP for a child without a setting is addressed to a Health Visitor")
            if self.not_on_roll:
                raise ValueError("a young child without a setting has the early-years-no-setting PEP, not not-on-roll")
        elif self.not_on_roll:
            if self.variant == "early-years":
                raise ValueError("an early years child without a setting has the early-years-no-setting PEP")
        else:
            if not (self.setting.setting_name and self.setting.designated_teacher_name):
                raise ValueError("a PEP with an education setting needs its name and the designated teacher")
        if self.review == "initial" and self.previous is not None:
            raise ValueError("an initial PEP is the child's first: there is no previous PEP to carry forward")
        return self


class SmartTarget(_Model):
    """A target; ``number`` is its row on the form (1 to 5), its id within the PEP
    (:func:`target_id`): Pupil Premium Plus requests and next term's review name it."""

    target: Text
    who: ShortText | None = None
    by_when: date | None = None
    number: Annotated[int, Field(ge=1, le=99)] | None = None


def target_id(pep_reference: str, number: int) -> str:
    """The stable id of target ``number`` of a PEP: ``PEP-...#T2``."""
    return f"{pep_reference}#T{number}"


class TargetReview(_Model):
    """Last term's target (carried forward) and how far it was met."""

    target: Text
    outcome: Literal["achieved", "partly-achieved", "not-achieved", "no-longer-relevant"] | None = None
    comment: Text | None = None
    number: Annotated[int, Field(ge=1, le=99)] | None = None


class SubjectAttainment(_Model):
    subject: ShortText
    current: ShortText | None = None  # working at now
    expected: ShortText | None = None  # expected by the end of the year / key stage
    target: ShortText | None = None  # the school's target


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
    # the content model (issue 15): see pepflow/documents/_sections.py for where each goes
    target_reviews: list[TargetReview] = Field(default_factory=list)
    authorised_absence_sessions: Annotated[int, Field(ge=0, le=1000)] | None = None
    unauthorised_absence_sessions: Annotated[int, Field(ge=0, le=1000)] | None = None
    reduced_timetable_hours: Annotated[Decimal, Field(ge=0, le=60)] | None = None
    reduced_timetable_plan: Text | None = None
    alternative_provision: bool | None = None
    alternative_provision_details: Text | None = None
    funded_hours: Annotated[Decimal, Field(ge=0, le=60)] | None = None
    key_person: ShortText | None = None
    two_year_review_outcome: Text | None = None
    not_on_roll_reason: Text | None = None
    off_roll_since: date | None = None
    current_provision: Text | None = None
    provision_hours: Annotated[Decimal, Field(ge=0, le=60)] | None = None
    school_place_actions: Text | None = None
    behaviour: Text | None = None
    exclusion_risk: bool | None = None
    exclusion_avoidance: Text | None = None
    subjects: list[SubjectAttainment] = Field(default_factory=list)
    key_stage_results: Text | None = None
    reading_age: ShortText | None = None
    reading_age_tested_on: date | None = None
    sen_primary_need: Literal["SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "OTH"] | None = None
    ehcp_last_review_date: date | None = None
    ehcp_next_review_date: date | None = None
    agencies: Text | None = None
    sdq_follow_up: Text | None = None
    strengths_achievements: Text | None = None
    enrichment: Text | None = None
    home_learning: Text | None = None
    child_attended: bool | None = None
    child_views_going_well: Text | None = None
    child_views_finding_hard: Text | None = None
    child_views_help: Text | None = None
    child_views_how: Text | None = None
    parent_views: Text | None = None
    aspirations: Text | None = None
    transition_plan: Text | None = None
    ppp_impact: Text | None = None
    # targets and funding
    targets: list[SmartTarget] = Field(default_factory=list)
    ppp_use: Text | None = None
    ppp_amount: Annotated[Decimal, Field(ge=0, le=100_000)] | None = None
    # post-16 and transition
    course: Text | None = None
    neet_risk: bool | None = None
    bursary_applied: bool | None = None
    transition_careers: Text | None = None

    @field_validator("attendance_percent", "exclusion_days", "ppp_amount", "reduced_timetable_hours",
                     "funded_hours", "provision_hours")
    @classmethod
    def _two_places(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and v.as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValueError("at most two decimal places")
        return v

    @model_validator(mode="after")
    def _targets_numbered(self) -> SchoolReturn:
        """Every target has a number, unique in the PEP: a target given without one
        takes the next free number after those given."""
        for name in ("targets", "target_reviews"):
            items = getattr(self, name)
            taken = [t.number for t in items if t.number is not None]
            if len(taken) != len(set(taken)):
                raise ValueError(f"two {name.replace('_', ' ')} have the same number")
            free = (n for n in range(1, 100) if n not in taken)
            if any(t.number is None for t in items):  # copies: the caller's items stay as given
                object.__setattr__(self, name, [
                    t if t.number is not None else t.model_copy(update={"number": next(free)}) for t in items
                ])
        return self


class Attendee(_Model):
    """Someone invited to the meeting, and whether they came."""

    name: ShortText
    role: ShortText | None = None
    attendance: Literal["attended", "apologies", "did-not-attend"] | None = None


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
    signed_designated_teacher: ShortText | None = None  # or Health Visitor, education provider
    signed_designated_teacher_on: date | None = None
    signed_social_worker: ShortText | None = None
    signed_social_worker_on: date | None = None


PepFormContent.model_rebuild()
