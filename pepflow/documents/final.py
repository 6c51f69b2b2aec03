"""Render the final PEP: the social worker's part, the school's return and the meeting record.

The final document is what business support sends to all attendees once the social
worker has checked it. It carries "Final" status and a version number in the body, in
locked content controls (``pep.status``, ``pep.version``) and in the core properties,
and opens read-only in Word (editing restriction without a password).
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from pepflow.documents import _ooxml as ox
from pepflow.documents._fields import shape_of
from pepflow.documents.forms import (
    DEFAULT_COUNCIL_NAME,
    DETAIL_HEADERS,
    QUESTION_HEADERS,
    GRID_COLS,
    TWO_COLS,
    VARIANT_TITLES,
    append_all,
    child_and_placement,
    format_date,
    heading,
    locked_row,
    new_document,
    part_3_title,
    save,
    set_core_properties,
    social_worker_part,
    table,
)
from pepflow.documents.model import (
    MeetingRecord,
    PepFormContent,
    PepIdentity,
    SchoolReturn,
)
from pepflow.documents.view import NOT_PROVIDED, SectionView, meeting_view, school_view

__all__ = ["NOT_PROVIDED", "render_final_pep"]


def _section(view: SectionView) -> list[etree._Element]:
    """A section of the final PEP: a real heading, then its answers in a table with alt text."""
    out = [heading(view.title, 2)]
    if view.is_grid:
        columns = ("",) + view.columns
        t = table(view.title, view.widths or GRID_COLS[len(columns)], columns,
                  f"{view.title}: one row per item, with columns {', '.join(view.columns)}.")
        if not view.rows:
            tr = t.row()
            ox.paragraph(t.cell(tr, 0, span=len(columns)), view.empty, italic=True, space_after=0)
        for n, cells in enumerate(view.rows, start=1):
            tr = t.row()
            ox.paragraph(t.cell(tr, 0, fill=ox.LABEL_FILL), str(n), bold=True, space_after=0)
            for i, text in enumerate(cells, start=1):
                tc = t.cell(tr, i)
                for line in (text or "").split("\n"):
                    ox.paragraph(tc, line, space_after=0)
    else:
        t = table(view.title, TWO_COLS, QUESTION_HEADERS,
                  f"{view.title}: each row is a question followed by its answer.")
        for label, value in view.rows:
            t.text_row(label, value)
    out.append(t.tbl)
    return out


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
    shape = shape_of(content)
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
    t = table("PEP details", TWO_COLS, DETAIL_HEADERS)
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
    body += [heading("PEP details"), t.tbl]

    body.append(heading("Part 1: Child and placement"))
    body += child_and_placement(content, ids)
    body.append(heading(f"Part 2: {content.social_worker.owner_role}'s part"))
    body += social_worker_part(content, ids)

    body.append(heading(part_3_title(shape)))
    for view in school_view(shape, school_return):
        body += _section(view)

    body.append(heading("Part 4: The PEP meeting"))
    for view in meeting_view(shape, meeting):
        body += _section(view)
    body.append(ox.paragraph(None, space_after=0))
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
