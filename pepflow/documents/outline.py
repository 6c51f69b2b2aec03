"""What the final PEP says, in order, before it is Word or PDF.

One outline, two renderers: :mod:`pepflow.documents.final` writes it as the Word
final PEP, :mod:`pepflow.documents.final_pdf` as its tagged PDF, so both carry the
same headings, tables, rows and words in the same order. Parts 1 and 2 (the
prefilled child, placement and social worker's tables) are the form's too
(:mod:`pepflow.documents.forms`); parts 3 and 4 are the answers in words
(:mod:`pepflow.documents.view`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pepflow.documents._fields import FormShape, shape_of, year_group
from pepflow.documents.model import MeetingRecord, PepFormContent, PepIdentity, SchoolReturn
from pepflow.documents.view import SectionView, format_date, meeting_view, school_view

NOT_RECORDED = "Not recorded"
DEFAULT_COUNCIL_NAME = "[Council name]"
TITLE = "Personal Education Plan"
MARKING = "OFFICIAL-SENSITIVE"
FINAL_NOTE = ("This is the final PEP. It is OFFICIAL-SENSITIVE: keep it secure and share it only with the "
              "people who attended the meeting or need it to support the child's education.")

VARIANT_TITLES = {
    "early-years": "Early years",
    "school-age": "School age",
    "post-16": "Post-16",
    "early-years-no-setting": "Early years (no setting)",
}


@dataclass(frozen=True)
class Detail:
    """One row of a details table: a label and a prefilled value (locked in the form)."""

    tag: str
    label: str
    value: str | None
    bold: bool = False
    multiline: bool = False

    @property
    def text(self) -> str:
        return self.value if self.value not in (None, "") else NOT_RECORDED


@dataclass(frozen=True)
class DetailTable:
    title: str
    rows: tuple[Detail, ...]


@dataclass
class Part:
    """A part of the PEP: a level-1 heading, then its sections (each a level-2 heading and a table)."""

    title: str
    blocks: list[DetailTable | SectionView] = field(default_factory=list)


@dataclass
class FinalOutline:
    council_name: str
    subtitle: str
    correction_note: str | None
    details: DetailTable
    parts: list[Part]
    closing: str
    document_title: str  # the Word core properties' title, the PDF's title
    subject: str
    reference: str
    variant: str
    version: int


def _count(n: int | None) -> str | None:
    return None if n is None else str(n)


def child_and_placement_tables(content: PepFormContent) -> list[DetailTable]:
    """Part 1: the child, the education setting (or who stands for it), the meeting."""
    c, s, m = content.child, content.setting, content.meeting
    child = DetailTable("Child and placement details", (
        Detail("child.name", "Child's name", c.name),
        Detail("child.date_of_birth", "Date of birth", format_date(c.date_of_birth)),
        Detail("child.upn", "Unique pupil number (UPN)", c.upn),
        Detail("child.year_group", "Year group", year_group(content).words(c.year_group)),
        Detail("child.legal_status", "Legal status", c.legal_status),
        Detail("child.carer_name", "Carer", c.carer_name),
        Detail("child.placement_type", "Placement type", c.placement_type),
    ))
    if content.variant == "early-years-no-setting":
        setting = DetailTable("Health Visitor and carers (no early years setting)", (
            Detail("setting.health_visitor_name", "Health Visitor", s.health_visitor_name),
            Detail("setting.carers_names", "Carers (and parents if appropriate)", s.carers_names),
        ))
    elif content.not_on_roll:
        setting = DetailTable("Education (not on a school or college roll)", (
            Detail("setting.setting_name", "Education provider", s.setting_name),
            Detail("setting.designated_teacher_name", "Education lead", s.designated_teacher_name),
        ))
    else:
        setting = DetailTable("Education setting", (
            Detail("setting.setting_name", "Education setting", s.setting_name),
            Detail("setting.designated_teacher_name", "Designated teacher", s.designated_teacher_name),
        ))
    meeting = DetailTable("PEP meeting arrangements", (
        Detail("arrangements.date", "Meeting date", format_date(m.date)),
        Detail("arrangements.time", "Meeting time", m.time.strftime("%H:%M") if m.time else None),
        Detail("arrangements.venue", "Venue", m.venue),
    ))
    return [child, setting, meeting]


def social_worker_tables(content: PepFormContent) -> list[DetailTable]:
    """Part 2: the lead professional's part and the care context."""
    sw = content.social_worker
    rows = [
        Detail("sw.owner_role", "Lead professional role", sw.owner_role),
        Detail("sw.owner_name", "Lead professional", sw.owner_name),
        Detail("sw.team", "Team", sw.team),
    ]
    if content.variant == "early-years-no-setting":
        rows.append(Detail("sw.development_knowledge", "What the social worker knows of the child's development",
                           sw.development_knowledge, multiline=True))
    rows += [
        Detail("sw.strengths", "Current strengths", sw.strengths, multiline=True),
        Detail("sw.needs", "Current needs", sw.needs, multiline=True),
    ]
    care = (
        Detail("sw.date_into_care", "Date into care", format_date(sw.date_into_care) or None),
        Detail("sw.placement_moves", "Placement moves in the last 12 months", _count(sw.placement_moves)),
        Detail("sw.school_moves", "School moves since coming into care", _count(sw.school_moves)),
        Detail("sw.delegated_authority", "Delegated authority (what the carers may agree to)",
               sw.delegated_authority, multiline=True),
        Detail("sw.health", "Health (needs, latest health assessment)", sw.health, multiline=True),
    )
    return [DetailTable(f"Filled in by the {sw.owner_role.lower()}", tuple(rows)),
            DetailTable("The care context", care)]


def part_3_title(shape: FormShape) -> str:
    if shape.variant == "early-years-no-setting":
        return "Part 3: Health Visitor's and carers' part"
    if shape.not_on_roll:
        return "Part 3: Education provider's part"
    return "Part 3: Designated teacher's part"


def final_outline(
    identity: PepIdentity,
    content: PepFormContent,
    school_return: SchoolReturn,
    meeting: MeetingRecord,
    version: int,
    *,
    council_name: str = DEFAULT_COUNCIL_NAME,
    finalised_on: date | None = None,
    finalised_by: str | None = None,
    correction_note: str | None = None,
) -> FinalOutline:
    """The final PEP: every part and section, in the order both documents print them."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError("version must be a positive whole number")
    shape = shape_of(content)
    details = DetailTable("PEP details", (
        Detail("pep.reference", "PEP reference", identity.pep_reference, bold=True),
        Detail("pep.child_id", "Child ID", identity.child_id),
        Detail("pep.term", "Term", identity.term),
        Detail("pep.academic_year", "Academic year", identity.academic_year),
        Detail("pep.status", "Status", "Final", bold=True),
        Detail("pep.version", "Version", str(version)),
        Detail("pep.finalised_on", "Finalised on", format_date(finalised_on) or None),
        Detail("pep.finalised_by", "Finalised by", finalised_by),
    ))
    parts = [
        Part("Part 1: Child and placement", list(child_and_placement_tables(content))),
        Part(f"Part 2: {content.social_worker.owner_role}'s part", list(social_worker_tables(content))),
        Part(part_3_title(shape), list(school_view(shape, school_return))),
        Part("Part 4: The PEP meeting", list(meeting_view(shape, meeting))),
    ]
    return FinalOutline(
        council_name=council_name,
        subtitle=f"Final · Version {version} · {identity.term} · {VARIANT_TITLES[content.variant]} PEP",
        correction_note=correction_note or None,
        details=details,
        parts=parts,
        closing=FINAL_NOTE,
        document_title=f"{TITLE} – {identity.term}",
        subject=f"Final PEP, version {version}",
        reference=identity.pep_reference,
        variant=content.variant,
        version=version,
    )
