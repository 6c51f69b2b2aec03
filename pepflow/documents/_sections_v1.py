"""The fields of the first PEP form layout (``v1``), kept to read forms issued before
the content model (``_sections``) replaced it: a form sent last term can come back
after an upgrade and must still be read in full.
"""

from __future__ import annotations

from pepflow.documents._spec import (
    ACTION_ROWS,
    ATTENDEE_ROWS,
    NEXT_MEETING_ROWS,
    TARGET_ROWS,
    FieldSpec,
    Grid,
    Kind,
    Row,
    Section,
)
from pepflow.documents.model import Variant


def _f(name: str, label: str, kind: Kind, hint: str | None = None, part: str = "school") -> Row:
    return Row((FieldSpec(part, name, label, kind),), hint)  # type: ignore[arg-type]


def _targets_section(title: str) -> Section:
    rows = tuple(
        Row(
            (
                FieldSpec("school", f"targets.{i}.target", f"Target {i}", "text"),
                FieldSpec("school", f"targets.{i}.who", f"Target {i}", "line", 2, "who"),
                FieldSpec("school", f"targets.{i}.by_when", f"Target {i}", "date", 3, "by when"),
            )
        )
        for i in range(1, TARGET_ROWS + 1)
    )
    return Section(
        title,
        rows,
        columns=("", "SMART target (specific, measurable, achievable, relevant, timed)", "Who", "By when"),
        key="targets",
        grid=Grid("targets", TARGET_ROWS, ("target", "who", "by_when"), "target", numbered=True),
    )


EYFS_ROWS = (
    _f("eyfs_communication_language", "Communication and language", "text"),
    _f("eyfs_physical", "Physical development", "text"),
    _f("eyfs_personal_social_emotional", "Personal, social and emotional development", "text"),
    _f("eyfs_literacy", "Literacy", "text"),
    _f("eyfs_mathematics", "Mathematics", "text"),
    _f("eyfs_understanding_world", "Understanding the world", "text"),
    _f("eyfs_expressive_arts", "Expressive arts and design", "text"),
)

COMPLETED = Section(
    "Completed by",
    (
        _f("completed_by", "Completed by (name and role)", "line"),
        _f("completed_on", "Date completed", "date"),
    ),
)

VIEWS = Section(
    "Views",
    (
        _f("child_views", "The child's views", "text", "In their own words where possible, and how they were gathered."),
        _f("carer_views", "The carer's views", "text"),
    ),
)

WELLBEING = Section(
    "Health and well-being",
    (
        _f("wellbeing", "Health and well-being", "text", "Emotional well-being, friendships, any concerns."),
        _f("sdq_score", "Latest SDQ score (0–40)", "int"),
    ),
)


def school_sections_for(variant: Variant, transition: bool) -> tuple[Section, ...]:
    if variant == "early-years-no-setting":
        return (
            Section(
                "Health and development review",
                (
                    _f("two_year_review_date", "Date of the 2-year health and development review", "date"),
                    _f("early_years_place_sought", "Is an early years place being sought?", "bool"),
                ),
            ),
            Section(
                "Development (EYFS areas of learning)",
                EYFS_ROWS,
                note="What the child can do now in each area, from the Health Visitor's and carers' observations.",
            ),
            Section(
                "Health, well-being and views",
                (
                    _f("wellbeing", "Health and well-being", "text"),
                    _f("child_views", "The child's presentation and views", "text"),
                    _f("carer_views", "The carers' (and parents') views", "text"),
                ),
            ),
            _targets_section("Targets to support the child's development"),
            COMPLETED,
        )
    attendance_rows = [
        _f("attendance_percent", "Attendance this academic year (%)", "decimal"),
        _f("sessions_missed", "Sessions missed this term", "int"),
    ]
    if variant != "early-years":
        attendance_rows += [
            _f("exclusions_count", "Suspensions and exclusions this term (number)", "int"),
            _f("exclusion_days", "Days lost to suspension or exclusion", "decimal"),
            _f("reduced_timetable", "Is the young person on a reduced (part-time) timetable?", "bool"),
        ]
    sections: list[Section] = [Section("Attendance and exclusions" if variant != "early-years" else "Attendance", tuple(attendance_rows))]
    if variant == "early-years":
        sections.append(Section("Development (EYFS areas of learning)", EYFS_ROWS))
        sections.append(
            Section(
                "Progress and special educational needs",
                (
                    _f("progress", "Progress since the last PEP", "text"),
                    _f("sen_status", "SEN/EHCP status", "sen"),
                ),
            )
        )
    elif variant == "post-16":
        sections.append(
            Section(
                "Education, employment or training",
                (
                    _f("course", "Course, level and provider", "text"),
                    _f("attainment", "Attainment and predicted grades", "text"),
                    _f("progress", "Progress since the last PEP", "text"),
                    _f("sen_status", "SEN/EHCP status", "sen"),
                    _f("neet_risk", "Is the young person at risk of becoming NEET?", "bool"),
                    _f("bursary_applied", "Has the 16–19 Bursary been applied for?", "bool"),
                ),
            )
        )
    else:
        sections.append(
            Section(
                "Attainment and progress",
                (
                    _f("attainment", "Current attainment", "text", "Working at / expected levels in English, maths and other subjects."),
                    _f("progress", "Progress since the last PEP", "text"),
                    _f("sen_status", "SEN/EHCP status", "sen"),
                ),
            )
        )
    sections.append(WELLBEING)
    sections.append(VIEWS)
    sections.append(_targets_section("SMART targets"))
    if variant == "early-years":
        funding = ("Early Years Pupil Premium: how it is being used", "Early Years Pupil Premium amount requested (£)")
        title = "Early Years Pupil Premium"
    elif variant == "post-16":
        funding = ("Post-16 funding: how it is being used", "Post-16 funding amount requested (£)")
        title = "Post-16 funding"
    else:
        funding = ("Pupil Premium Plus: how it is being used", "Pupil Premium Plus amount requested (£)")
        title = "Pupil Premium Plus"
    sections.append(Section(title, (_f("ppp_use", funding[0], "text"), _f("ppp_amount", funding[1], "money"))))
    if transition:
        label = "Careers guidance and next steps" if variant == "post-16" else "Transition and careers guidance"
        sections.append(Section("Transition and careers", (_f("transition_careers", label, "text"),)))
    sections.append(COMPLETED)
    return tuple(sections)


def meeting_sections() -> tuple[Section, ...]:
    m = "meeting"
    attendees = Section(
        "Attendees",
        tuple(
            Row(
                (
                    FieldSpec(m, f"attendees.{i}.name", f"Attendee {i}", "line"),
                    FieldSpec(m, f"attendees.{i}.role", f"Attendee {i}", "line", 2, "role"),
                )
            )
            for i in range(1, ATTENDEE_ROWS + 1)
        ),
        columns=("", "Name", "Role"),
        key="attendees",
        grid=Grid("attendees", ATTENDEE_ROWS, ("name", "role"), "name"),
    )
    actions = Section(
        "Actions agreed",
        tuple(
            Row(
                (
                    FieldSpec(m, f"actions.{i}.action", f"Action {i}", "text"),
                    FieldSpec(m, f"actions.{i}.who", f"Action {i}", "line", 2, "who"),
                    FieldSpec(m, f"actions.{i}.by_when", f"Action {i}", "date", 3, "by when"),
                )
            )
            for i in range(1, ACTION_ROWS + 1)
        ),
        columns=("", "Action", "Who", "By when"),
        key="actions",
        grid=Grid("actions", ACTION_ROWS, ("action", "who", "by_when"), "action"),
    )
    record = Section(
        "Meeting record",
        (
            _f("held_on", "Date the meeting was held", "date", part=m),
            _f("updates_agreed", "Updates agreed at the meeting", "text", part=m),
        )
        + tuple(
            _f(f"next_meeting_dates.{i}", f"Next PEP meeting date {i}", "date", part=m)
            for i in range(1, NEXT_MEETING_ROWS + 1)
        ),
    )
    return (attendees, record, actions)

