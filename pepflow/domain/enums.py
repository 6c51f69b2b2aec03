"""The vocabularies of the PEP process.

Values are the strings used in process variables, forms, CSV files and the records
store, so they are part of the contract in ``docs/process-contract.md``.
"""

from __future__ import annotations

from enum import StrEnum


class Variant(StrEnum):
    """The phase variant of a PEP."""

    EARLY_YEARS = "early-years"
    SCHOOL_AGE = "school-age"
    POST_16 = "post-16"
    EARLY_YEARS_NO_SETTING = "early-years-no-setting"

    @property
    def has_setting_input(self) -> bool:
        """False when the PEP goes to the health visitor and carers instead of a setting."""
        return self is not Variant.EARLY_YEARS_NO_SETTING


class OwnerRole(StrEnum):
    """Who owns the PEP: the child's worker, by age."""

    SOCIAL_WORKER = "social-worker"
    LEAVING_CARE_WORKER = "leaving-care-worker"
    PERSONAL_ADVISER = "personal-adviser"


class StaffRole(StrEnum):
    SOCIAL_WORKER = "social-worker"
    LEAVING_CARE_WORKER = "leaving-care-worker"
    PERSONAL_ADVISER = "personal-adviser"
    BUSINESS_SUPPORT = "business-support"
    #: manages a locality's caseworkers: allocates a worker to a child, and gets the
    #: PEP owner's tasks (as a candidate group) while no worker is allocated
    TEAM_MANAGER = "team-manager"
    PEP_COORDINATOR = "pep-coordinator"
    VIRTUAL_SCHOOL = "virtual-school"
    OPERATOR = "operator"
    ADMINISTRATOR = "administrator"


class PepStatus(StrEnum):
    NOT_STARTED = "not-started"
    IN_PROGRESS = "in-progress"
    FORM_SENT = "form-sent"
    FORM_RETURNED = "form-returned"
    MEETING_HELD = "meeting-held"
    TYPED_UP = "typed-up"
    RETURNED_FOR_CHANGES = "returned-for-changes"
    FINAL = "final"
    CANCELLED = "cancelled"

    @property
    def is_closed(self) -> bool:
        return self in (PepStatus.FINAL, PepStatus.CANCELLED)


class TermName(StrEnum):
    """The three terms of an English school year, in order."""

    AUTUMN = "autumn"
    SPRING = "spring"
    SUMMER = "summer"

    @property
    def code(self) -> str:
        """Three-letter code used in PEP references (``AUT``, ``SPR``, ``SUM``)."""
        return self.value[:3].upper()

    @property
    def index(self) -> int:
        return list(TermName).index(self)

    @classmethod
    def from_code(cls, code: str) -> TermName:
        for term in cls:
            if term.code == code.upper():
                return term
        raise ValueError(f"unknown term code {code!r}; expected one of AUT, SPR, SUM")


class SettingKind(StrEnum):
    """The kind of education setting. ``none``: not in education or not yet in a setting."""

    EARLY_YEARS = "early-years"
    PRIMARY = "primary"
    SECONDARY = "secondary"
    SPECIAL = "special"
    COLLEGE = "college"
    NONE = "none"


class ContactRole(StrEnum):
    """People outside the council linked to a child."""

    HEALTH_VISITOR = "health-visitor"
    FOSTER_CARER = "foster-carer"
    PARENT = "parent"
    OTHER = "other"


class PepSection(StrEnum):
    """The parts of a PEP whose content the records store keeps."""

    SOCIAL_WORKER = "social-worker"
    SCHOOL_RETURN = "school-return"
    MEETING_RECORD = "meeting-record"
    #: the meeting part (part 4) as the school filled it in the returned form: actions
    #: agreed, apologies, sign-off; merged into the meeting record for the final PEP
    SCHOOL_MEETING = "school-meeting"
    CHECK_NOTES = "check-notes"  # what the worker asked business support to change, in words


class DocumentKind(StrEnum):
    FORM = "form"
    FINAL = "final"
    RETURNED = "returned"  # the school's filled form, kept as it came back
    FINAL_PDF = "final-pdf"  # a PDF copy of the final PEP, where LibreOffice is present


class MailStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"
    WITHDRAWN = "withdrawn"  # never sent: the PEP was cancelled or the child left care first


class VenueCode(StrEnum):
    """Where a PEP meeting is held: a code in the process, the details (room, address)
    in the records store (free text never goes into a process variable)."""

    EDUCATION_SETTING = "education-setting"
    CARERS_HOME = "carers-home"
    COUNCIL_OFFICE = "council-office"
    ONLINE = "online"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            VenueCode.EDUCATION_SETTING: "At the education setting",
            VenueCode.CARERS_HOME: "At the carers' home",
            VenueCode.COUNCIL_OFFICE: "At council offices",
            VenueCode.ONLINE: "Online (video call)",
            VenueCode.OTHER: "Elsewhere (details in the PEP record)",
        }[self]
