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
from pepflow.documents.forms import (
    DEFAULT_COUNCIL_NAME,
    QUESTION_HEADERS,
    GRID_COLS,
    TWO_COLS,
    append_all,
    details,
    heading,
    new_document,
    save,
    set_core_properties,
    table,
)
from pepflow.documents.model import (
    MeetingRecord,
    PepFormContent,
    PepIdentity,
    SchoolReturn,
)
from pepflow.documents.outline import TITLE, DetailTable, final_outline
from pepflow.documents.view import NOT_PROVIDED, SectionView

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
    outline = final_outline(identity, content, school_return, meeting, version, council_name=council_name,
                            finalised_on=finalised_on, finalised_by=finalised_by, correction_note=correction_note)
    doc = new_document(council_name)
    ids = ox.IdSource()

    body: list[etree._Element] = [
        ox.paragraph(None, TITLE, style="Title", space_after=60),
        ox.paragraph(None, outline.subtitle, color="404040", size_half_points=22, space_after=120),
    ]
    if outline.correction_note:
        body.append(ox.paragraph(None, outline.correction_note, color="404040", size_half_points=22, space_after=120))
    body += details([outline.details], ids, level=1)  # PEP details is a part of its own
    for part in outline.parts:
        body.append(heading(part.title))
        for block in part.blocks:
            body += details([block], ids) if isinstance(block, DetailTable) else _section(block)
    body.append(ox.paragraph(None, space_after=0))
    body.append(ox.paragraph(None, outline.closing, italic=True, space_after=0))
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

    set_core_properties(doc, identity, title=outline.subject, status="Final", check=None,
                        variant=content.variant, council_name=council_name, stamp=finalised_on, version=version)
    return save(doc)
