"""The PEP's answers in plain words, section by section: what the final PEP prints and
the web PEP page shows, from the same content model as the form.

Every answer given is shown: an answer the current sections do not ask (a form issued
with an older layout, a section the year group no longer has) is listed under "Other
answers" rather than dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from pepflow.documents._fields import FieldSpec, FormShape, Section, meeting_sections, school_sections
from pepflow.documents.model import ATTENDANCE_LABELS, SEN_STATUS_LABELS, MeetingRecord, SchoolReturn

NOT_PROVIDED = "Not provided"
SDQ_CONCERN_ABOVE = 17

#: Role codes of the records and process, as people say them.
ROLE_WORDS = {
    "designated-teacher": "Designated teacher",
    "designated-practitioner": "Designated practitioner",
    "designated-person": "Designated person",
    "health-visitor": "Health Visitor",
    "foster-carer": "Foster carer",
    "carer": "Carer",
    "parent": "Parent",
    "social-worker": "Social worker",
    "leaving-care-worker": "Leaving care worker",
    "personal-adviser": "Personal adviser",
    "pep-coordinator": "PEP co-ordinator",
    "virtual-school": "Virtual School",
    "business-support": "Business support",
    "team-manager": "Team manager",
    "child": "The child",
    "young-person": "The young person",
    "owner": "Lead professional",
    "staff": "Council staff",
}


#: What a grid with no rows says, by section key.
EMPTY_GRID = {
    "review": "No targets from the last PEP to review.",
    "targets": "No targets recorded.",
    "attainment-subjects": "No subjects recorded.",
    "attendees": "No attendees recorded.",
    "actions": "No actions recorded.",
}


def role_words(role: str | None) -> str:
    """A role in words: a known code by its name; any other code with dashes as words."""
    if not role:
        return ""
    if role in ROLE_WORDS:
        return ROLE_WORDS[role]
    if "-" in role and role == role.lower() and " " not in role:
        return role.replace("-", " ").capitalize()
    return role


def format_date(d: date | None) -> str:
    return f"{d.day} {d:%B %Y}" if d else ""


def shown(f: FieldSpec | None, kind: str, value: Any) -> str:
    if value is None or value == "":
        return NOT_PROVIDED
    if kind == "date":
        return format_date(value)
    if kind == "bool":
        return "Yes" if value else "No"
    if kind == "sen":
        return SEN_STATUS_LABELS.get(str(value), str(value))
    if kind == "choice" and f is not None:
        return f.choice_label(value)
    if kind == "money":
        return f"£{Decimal(value):,.2f}"
    return str(value)


@dataclass
class SectionView:
    key: str
    title: str
    columns: tuple[str, ...] = ()  # a grid's column headings (without the row number)
    rows: list[tuple[str, ...]] = field(default_factory=list)  # (label, value) or a grid row's cells
    empty: str = ""  # what a grid with no rows says
    widths: tuple[int, ...] = ()  # the grid's column widths, as on the form

    @property
    def is_grid(self) -> bool:
        return bool(self.columns)


def _grid_view(section: Section, items: list[BaseModel], empty: str) -> SectionView:
    grid = section.grid
    assert grid is not None
    first = {name: f for f, name in zip(section.rows[0].fields, grid.columns)}
    rows = []
    for item in items:
        cells = []
        for name in grid.columns:
            value = getattr(item, name)
            if name == "role":
                cells.append(role_words(value))
            elif value is None:
                cells.append("")
            else:
                cells.append(shown(first[name], first[name].kind, value))
        rows.append(tuple(cells))
    return SectionView(section.key, section.title, tuple(c for c in section.columns if c), rows, empty,
                       section.widths)


def _flat_view(section: Section, answers: BaseModel, used: set[str]) -> SectionView:
    view = SectionView(section.key, section.title)
    for row in section.rows:
        f = row.fields[0]
        name = f.name.split(".")[0]
        used.add(name)
        if f.name.startswith("next_meeting_dates."):
            continue
        value = getattr(answers, name)
        text = shown(f, f.kind, value)
        if name == "sdq_follow_up" and value is None:
            score = getattr(answers, "sdq_score", None)
            if score is not None and score > SDQ_CONCERN_ABOVE:
                text = (f"Not provided: the SDQ score is {score}, above {SDQ_CONCERN_ABOVE}, "
                        "so the follow-up must be recorded")
        view.rows.append((row.label, text))
    return view


def school_view(shape: FormShape, answers: SchoolReturn) -> list[SectionView]:
    """Part 3 by section, then any other answers given."""
    views: list[SectionView] = []
    used: set[str] = set()
    for section in school_sections(shape):
        if section.grid is not None:
            used.add(section.grid.prefix)
            items = getattr(answers, section.grid.prefix)
            views.append(_grid_view(section, items, EMPTY_GRID.get(section.key, "None recorded.")))
        else:
            views.append(_flat_view(section, answers, used))
    others = SectionView("other", "Other answers")
    for name in SchoolReturn.model_fields:
        value = getattr(answers, name)
        if name in used or value in (None, "", []):
            continue
        if isinstance(value, list):
            value = "\n".join("; ".join(f"{k}: {v}" for k, v in item.model_dump(exclude_none=True).items())
                              for item in value)
        others.rows.append((name.replace("_", " ").capitalize(), shown(None, "line", value)))
    if others.rows:
        views.append(others)
    return views


def meeting_view(shape: FormShape, meeting: MeetingRecord) -> list[SectionView]:
    """Part 4: who was invited and came, the record, the actions agreed, the sign-off."""
    views: list[SectionView] = []
    for section in meeting_sections(shape):
        if section.grid is not None:
            items = getattr(meeting, section.grid.prefix)
            views.append(_grid_view(section, items, EMPTY_GRID.get(section.key, "None recorded.")))
            continue
        view = _flat_view(section, meeting, set())
        if section.key == "meeting-record":
            view.rows.append(("Next PEP meeting",
                              "\n".join(format_date(d) for d in meeting.next_meeting_dates) or "Not yet set"))
        views.append(view)
    return views


def attendance_words(value: str | None) -> str:
    return ATTENDANCE_LABELS.get(value or "", "")
