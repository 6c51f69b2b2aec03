"""The fields of a PEP form: one registry shared by the renderer and the reader.

Each field the school (or Health Visitor and carers) fills, and each field of the
meeting part, has a stable content-control tag (``school.attendance_percent``), an
alias (its human title, which LibreOffice keeps when it drops tags) and a visible label
in the table cell before it (the last resort when both are lost). Labels are unique
within a form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pepflow.documents.model import PepFormContent, Variant

Kind = Literal["text", "line", "int", "decimal", "money", "date", "bool", "sen"]

TARGET_ROWS = 5
ATTENDEE_ROWS = 8
ACTION_ROWS = 6
NEXT_MEETING_ROWS = 3

YES_GLYPHS = frozenset("☒☑✓✔✗✘xX■")
NO_GLYPHS = frozenset("☐□")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    part: Literal["school", "meeting"]
    name: str  # dotted path: "attendance_percent", "targets.2.who"
    label: str  # text of the label cell, also the alias (with ``alias_suffix``)
    kind: Kind
    offset: int = 1  # value cell = label cell + offset (label fallback)
    alias_suffix: str = ""  # "who", "by when" for the 2nd/3rd cell of a row

    @property
    def tag(self) -> str:
        return f"{self.part}.{self.name}"

    @property
    def alias(self) -> str:
        return f"{self.label} – {self.alias_suffix}" if self.alias_suffix else self.label

    @property
    def placeholder(self) -> str:
        if self.kind == "date":
            return "Enter a date."
        if self.kind == "sen":
            return "Choose an item."
        if self.kind == "text":
            return "Click or tap here to enter text."
        return "Enter text."


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a section table: a label and one field (or several, for grids)."""

    fields: tuple[FieldSpec, ...]
    hint: str | None = None

    @property
    def label(self) -> str:
        return self.fields[0].label


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    rows: tuple[Row, ...]
    columns: tuple[str, ...] = ()  # header row for grids (targets, attendees, actions)
    note: str | None = None


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


def school_sections(content: PepFormContent) -> tuple[Section, ...]:
    """The sections of part 3 for this form, in order."""
    return school_sections_for(content.variant, transition_applies(content))


def transition_applies(content: PepFormContent) -> bool:
    if content.variant == "post-16":
        return True
    if content.variant != "school-age":
        return False
    year = content.child.national_curriculum_year()
    return year is None or year >= 9


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


def all_fields(sections: tuple[Section, ...]) -> list[FieldSpec]:
    return [f for s in sections for r in s.rows for f in r.fields]
