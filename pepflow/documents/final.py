"""Render the final PEP: the social worker's part, the school's return and the meeting record.

The final document is what business support sends to all attendees once the social
worker has checked it. It carries "Final" status and a version number in the body, in
locked content controls (``pep.status``, ``pep.version``) and in the core properties,
and opens read-only in Word (editing restriction without a password).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from pepflow.documents import _ooxml as ox
from pepflow.documents._fields import Section, school_sections_for, transition_applies
from pepflow.documents.forms import (
    DEFAULT_COUNCIL_NAME,
    GRID_COLS,
    TWO_COLS,
    VARIANT_TITLES,
    append_all,
    child_and_placement,
    format_date,
    heading,
    locked_row,
    new_document,
    save,
    set_core_properties,
    social_worker_part,
    spacer,
)
from pepflow.documents.model import (
    SEN_STATUS_LABELS,
    MeetingRecord,
    PepFormContent,
    PepIdentity,
    SchoolReturn,
)

NOT_PROVIDED = "Not provided"


def _show(kind: str, value: object) -> str:
    if value is None or value == "":
        return NOT_PROVIDED
    if kind == "date":
        return format_date(value)  # type: ignore[arg-type]
    if kind == "bool":
        return "Yes" if value else "No"
    if kind == "sen":
        return SEN_STATUS_LABELS.get(str(value), str(value))
    if kind == "money":
        return f"£{Decimal(value):,.2f}"  # type: ignore[arg-type]
    return str(value)


def _values_table(section: Section, school_return: SchoolReturn) -> etree._Element:
    t = ox.Table(TWO_COLS)
    t.title_row(section.title)
    for row in section.rows:
        f = row.fields[0]
        t.text_row(row.label, _show(f.kind, getattr(school_return, f.name)))
    return t.tbl


def _grid(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]], empty: str) -> etree._Element:
    t = ox.Table(GRID_COLS[len(columns)])
    t.title_row(title)
    tr = t.row(header=True)
    for i, name in enumerate(columns):
        ox.paragraph(t.cell(tr, i, fill=ox.HEADER_FILL), name, bold=True, space_after=0)
    if not rows:
        tr = t.row()
        ox.paragraph(t.cell(tr, 0, span=len(columns)), empty, italic=True, space_after=0)
    for n, cells in enumerate(rows, start=1):
        tr = t.row()
        ox.paragraph(t.cell(tr, 0, fill=ox.LABEL_FILL), str(n), bold=True, space_after=0)
        for i, text in enumerate(cells, start=1):
            tc = t.cell(tr, i)
            for line in text.split("\n"):
                ox.paragraph(tc, line, space_after=0)
    return t.tbl


def render_final_pep(
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
) -> bytes:
    """One final PEP document merging all parts, marked Final with ``version``; a
    corrected version says what was corrected and why (``correction_note``)."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError("version must be a positive whole number")
    no_setting = content.variant == "early-years-no-setting"
    doc = new_document(council_name)
    ids = ox.IdSource()

    body: list[etree._Element] = [
        ox.paragraph(None, "Personal Education Plan", style="Title", space_after=60),
        ox.paragraph(
            None,
            f"Final · Version {version} · {identity.term} · {VARIANT_TITLES[content.variant]} PEP",
            color="404040", size_half_points=22, space_after=120,
        ),
    ]
    if correction_note:
        body.append(ox.paragraph(None, correction_note, color="404040", size_half_points=22, space_after=120))
    t = ox.Table(TWO_COLS)
    t.title_row("PEP details")
    for tag, label, value in (
        ("pep.reference", "PEP reference", identity.pep_reference),
        ("pep.child_id", "Child ID", identity.child_id),
        ("pep.term", "Term", identity.term),
        ("pep.academic_year", "Academic year", identity.academic_year),
        ("pep.status", "Status", "Final"),
        ("pep.version", "Version", str(version)),
        ("pep.finalised_on", "Finalised on", format_date(finalised_on) or None),
        ("pep.finalised_by", "Finalised by", finalised_by),
    ):
        locked_row(t, tag, label, value, ids, bold=tag in ("pep.reference", "pep.status"))
    body += [t.tbl, spacer()]

    body.append(heading("Part 1: Child and placement"))
    body += child_and_placement(content, ids)
    body.append(heading(f"Part 2: {content.social_worker.owner_role}'s part"))
    body += social_worker_part(content, ids)

    body.append(heading("Part 3: Health Visitor's and carers' part" if no_setting else "Part 3: Designated teacher's part"))
    transition = transition_applies(content) or school_return.transition_careers is not None
    for i, section in enumerate(school_sections_for(content.variant, transition)):
        if i:
            body.append(spacer())
        if section.columns:  # the SMART targets grid
            rows = [
                (tg.target, tg.who or "", format_date(tg.by_when)) for tg in school_return.targets
            ]
            body.append(_grid(section.title, ("", "SMART target", "Who", "By when"), rows, "No targets recorded."))
        else:
            body.append(_values_table(section, school_return))

    body.append(heading("Part 4: The PEP meeting"))
    m = ox.Table(TWO_COLS)
    m.title_row("Meeting record")
    m.text_row("Date the meeting was held", format_date(meeting.held_on) or NOT_PROVIDED)
    m.text_row("Updates agreed at the meeting", meeting.updates_agreed or NOT_PROVIDED)
    m.text_row(
        "Next PEP meeting",
        "\n".join(format_date(d) for d in meeting.next_meeting_dates) or "Not yet set",
    )
    body += [
        _grid("Attendees", ("", "Name", "Role"), [(a.name, a.role or "") for a in meeting.attendees],
              "No attendees recorded."),
        spacer(),
        m.tbl,
        spacer(),
        _grid("Actions agreed", ("", "Action", "Who", "By when"),
              [(a.action, a.who or "", format_date(a.by_when)) for a in meeting.actions], "No actions recorded."),
    ]
    body.append(spacer())
    body.append(ox.paragraph(
        None,
        "This is the final PEP. It is OFFICIAL-SENSITIVE: keep it secure and share it only with the "
        "people who attended the meeting or need it to support the child's education.",
        italic=True, space_after=0,
    ))
    append_all(doc, body)

    settings = doc.settings.element
    protection = etree.Element(ox.qn("w:documentProtection"))
    protection.set(ox.qn("w:edit"), "readOnly")
    protection.set(ox.qn("w:enforcement"), "1")
    anchor = settings.find(ox.qn("w:defaultTabStop"))
    if anchor is not None:
        anchor.addprevious(protection)
    else:
        settings.append(protection)

    set_core_properties(doc, identity, title=f"Final PEP, version {version}", status="Final", check=None,
                        variant=content.variant, council_name=council_name, stamp=finalised_on, version=version)
    return save(doc)
