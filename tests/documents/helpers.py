"""Sample PEPs, and editing a .docx the way a school (or LibreOffice) would."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from lxml import etree

from pepflow.documents import (
    AgreedAction,
    Attendee,
    ChildDetails,
    MeetingArrangements,
    MeetingRecord,
    PepFormContent,
    PepIdentity,
    SchoolReturn,
    SettingDetails,
    SmartTarget,
    SocialWorkerPart,
)

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
SECRET = b"test-secret-0123456789abcdef-xyz"
COUNCIL = "Anyshire County Council"


def w(name: str) -> str:
    return f"{{{W}}}{name}"


def identity(ref: str = "PEP-C-0001-2026-AUT", child_id: str = "C-0001") -> PepIdentity:
    return PepIdentity(pep_reference=ref, child_id=child_id, term="Autumn 2026", academic_year="2026/27")


def content(variant: str, year_group: str | None = None) -> PepFormContent:
    no_setting = variant == "early-years-no-setting"
    years = {"early-years": "Nursery", "school-age": "Year 10", "post-16": "Year 12", "early-years-no-setting": None}
    dob = {"early-years": date(2022, 5, 1), "school-age": date(2011, 2, 3), "post-16": date(2009, 11, 30),
           "early-years-no-setting": date(2024, 6, 15)}[variant]
    return PepFormContent(
        variant=variant,
        child=ChildDetails(
            name="Alex Example",
            date_of_birth=dob,
            legal_status="S31 Care Order",
            carer_name="Jo and Sam Carer",
            placement_type="Foster care (in-house)",
            year_group=year_group if year_group is not None else years[variant],
            upn=None if no_setting else "A123456789012",
        ),
        social_worker=SocialWorkerPart(
            owner_role="Leaving Care Worker" if variant == "post-16" else "Social worker",
            owner_name="Priya Worker",
            team="Children in Care Team East",
            strengths="Settled in placement.\nEnjoys football and art.",
            needs="Support with reading.",
            development_knowledge="Walking, says around 20 words." if no_setting else None,
        ),
        setting=SettingDetails(health_visitor_name="Hana Visitor", carers_names="Jo and Sam Carer")
        if no_setting
        else SettingDetails(setting_name="Hilltop Academy", designated_teacher_name="Mr D. Teacher"),
        meeting=MeetingArrangements(date=date(2026, 10, 14), time=time(10, 30), venue="Hilltop Academy"),
    )


TARGETS = [
    SmartTarget(target="Read a chapter book with an adult three times a week.", who="Carer and class teacher",
                by_when=date(2026, 12, 18)),
    SmartTarget(target="Attend the lunchtime art club every week.", who="Learning mentor", by_when=None),
]


def school_return(variant: str) -> SchoolReturn:
    common = dict(
        completed_by="Mr D. Teacher, designated teacher",
        completed_on=date(2026, 9, 25),
        wellbeing="Happy in school; some anxiety at transitions.\nSees the school nurse fortnightly.",
        child_views="I like art and my new friends.",
        carer_views="Doing well; homework is a struggle.",
        targets=TARGETS,
    )
    eyfs = dict(
        eyfs_communication_language="Uses short sentences.",
        eyfs_physical="Runs and climbs confidently.",
        eyfs_personal_social_emotional="Plays alongside others.",
        eyfs_literacy="Enjoys stories.",
        eyfs_mathematics="Counts to five.",
        eyfs_understanding_world="Curious about animals.",
        eyfs_expressive_arts="Loves painting.",
    )
    if variant == "early-years-no-setting":
        common.pop("completed_by")
        return SchoolReturn(**common, **eyfs, completed_by="Hana Visitor (Health Visitor)",
                            two_year_review_date=date(2026, 7, 1), early_years_place_sought=True)
    base = dict(common, attendance_percent=Decimal("92.5"), sessions_missed=14, sdq_score=17,
                ppp_use="One-to-one reading tuition.", ppp_amount=Decimal("600.00"), progress="Good progress.",
                sen_status="sen-support")
    if variant == "early-years":
        return SchoolReturn(**base, **eyfs)
    base.update(exclusions_count=1, exclusion_days=Decimal("1.5"), reduced_timetable=False,
                attainment="Working at the expected standard in maths.")
    if variant == "post-16":
        return SchoolReturn(**base, course="Level 3 BTEC Art and Design, Anyshire College", neet_risk=False,
                            bursary_applied=True, transition_careers="Considering a foundation art course.")
    return SchoolReturn(**base, transition_careers="Careers interview booked for Year 10.")


MEETING = MeetingRecord(
    held_on=date(2026, 10, 14),
    attendees=[Attendee(name="Priya Worker", role="Social worker"), Attendee(name="Mr D. Teacher", role="DT"),
               Attendee(name="Alex Example", role=None)],
    updates_agreed="Reading tuition to continue.\nCarer to attend parents' evening.",
    actions=[AgreedAction(action="Apply for PP+ funding", who="DT", by_when=date(2026, 11, 1))],
    next_meeting_dates=[date(2027, 2, 3), date(2027, 6, 9)],
)


# --------------------------------------------------------------------------- editing .docx


from pepflow.documents.fill import (  # noqa: E402,F401 - the helpers the tests use
    document_root,
    edit_document,
    edit_part,
    fill_form,
    fill_value,
    sdt_by_tag,
    set_date,
    set_text,
    tick,
)


def strip_tags(root: etree._Element) -> None:
    """What LibreOffice does on re-save: w:tag gone, w:alias kept."""
    for tag in root.iter(w("tag")):
        tag.getparent().remove(tag)


def unwrap_controls(root: etree._Element) -> None:
    """Replace every content control by its content (tag and alias both gone)."""
    for sdt in list(root.iter(w("sdt"))):
        content = sdt.find(w("sdtContent"))
        parent = sdt.getparent()
        idx = parent.index(sdt)
        for child in reversed(list(content)):
            parent.insert(idx, child)
        parent.remove(sdt)


def all_text(root: etree._Element) -> str:
    return "".join(t.text or "" for t in root.iter(w("t")))
