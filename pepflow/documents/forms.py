"""Render the PEP form a designated teacher fills in (a .docx with content controls).

Parts 1 and 2 (child and placement, social worker's part) are prefilled and locked
(``sdtContentLocked``); part 3 (the designated teacher's, or for a child without an
early years setting the Health Visitor's and carers') is empty content controls the
reader finds again by tag, alias or label; part 4 is left for the meeting. The PEP
reference and its HMAC check value are in locked controls and the core properties.
"""

from __future__ import annotations

import copy
import io
from datetime import date, datetime, timezone
from functools import lru_cache

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.shared import Pt, RGBColor, Twips
from lxml import etree

from pepflow.documents import _ooxml as ox
from pepflow.documents._fields import FieldSpec, FormShape, Section, meeting_sections, school_sections, shape_of
from pepflow.documents._package import FastDocument, split_template
from pepflow.documents.carry import carried_note, carried_values, prefill
from pepflow.documents.model import SEN_STATUS_LABELS, PepFormContent, PepIdentity, form_check_value
from pepflow.documents.outline import (  # noqa: F401 - VARIANT_TITLES, NOT_RECORDED: the form's names too
    DEFAULT_COUNCIL_NAME,
    NOT_RECORDED,
    VARIANT_TITLES,
    DetailTable,
    child_and_placement_tables,
    part_3_title,
    social_worker_tables,
)
from pepflow.documents.view import format_date





# --------------------------------------------------------------------------- template


@lru_cache(maxsize=32)
def base_template(council_name: str, editable_answers_only: bool = False) -> bytes:
    """An empty A4 document with our styles, header and footer, built once per council.

    ``editable_answers_only``: Word's "restrict editing" (``w:documentProtection
    w:edit="readOnly"`` without a password) with the answers marked as editable ranges
    (``w:permStart``/``w:permEnd`` for everyone, see :func:`field_control`), so in Word a
    school can type only in the answers. LibreOffice (7.4) opens such a file read-only
    with an "Edit Document" button that then allows editing everywhere, and keeps the
    protection and ranges when it saves; the read-back reads everything either way.
    """
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Twips(ox.PAGE_WIDTH), Twips(ox.PAGE_HEIGHT)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(sec, side, Twips(ox.MARGIN))
    sec.header_distance = sec.footer_distance = Twips(567)

    styles = doc.styles
    normal = styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(10)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(ox.qn("w:eastAsia"), "Arial")
    normal.paragraph_format.space_after = Pt(4)
    for name, size in (("Title", 22), ("Heading 1", 15), ("Heading 2", 12.5)):
        st = styles[name]
        st.font.name = "Arial"
        st.font.size = Pt(size)
        st.font.color.rgb = RGBColor(0x1F, 0x38, 0x64)
        st.font.bold = True
    styles["Heading 1"].paragraph_format.space_before = Pt(14)
    styles["Heading 1"].paragraph_format.page_break_before = False
    ph = styles.add_style("Placeholder Text", WD_STYLE_TYPE.CHARACTER)
    ph.font.color.rgb = RGBColor(0x80, 0x80, 0x80)
    if ph.style_id != ox.PLACEHOLDER_STYLE:  # pragma: no cover - python-docx naming changed
        raise RuntimeError(f"unexpected style id {ph.style_id!r} for Placeholder Text")
    _british_english(doc)
    # python-docx's template carries a preview picture of another document: drop it
    rels = doc.part.package.rels
    for rid in [rid for rid, rel in rels.items() if rel.reltype.endswith("/thumbnail")]:
        del rels[rid]

    header = sec.header
    hp = header.paragraphs[0]._p
    _marking(hp)
    ox.paragraph(header._element, council_name, align="right", color="595959", size_half_points=16, space_after=0)

    footer = sec.footer
    fp = footer.paragraphs[0]._p
    _marking(fp)
    pages = ox.paragraph(footer._element, align="center", space_after=0)
    ox.run(pages, "Page ", size_half_points=16)
    _field(pages, "PAGE")
    ox.run(pages, " of ", size_half_points=16)
    _field(pages, "NUMPAGES")

    if editable_answers_only:
        settings = doc.settings.element
        protection = etree.Element(ox.qn("w:documentProtection"))
        protection.set(ox.qn("w:edit"), "readOnly")
        protection.set(ox.qn("w:enforcement"), "1")
        anchor = settings.find(ox.qn("w:defaultTabStop"))
        if anchor is not None:
            anchor.addprevious(protection)
        else:
            settings.append(protection)

    body = doc.element.body
    for child in list(body):
        if child.tag != ox.qn("w:sectPr"):
            body.remove(child)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _british_english(doc) -> None:
    """en-GB in the document defaults, every style and the theme's font language, so
    spelling, hyphenation and screen readers work in British English throughout."""
    styles = doc.styles.element
    for lang in styles.iter(ox.qn("w:lang")):
        lang.set(ox.qn("w:val"), ox.LANGUAGE)
        lang.set(ox.qn("w:eastAsia"), ox.LANGUAGE)
    theme_lang = doc.settings.element.find(ox.qn("w:themeFontLang"))
    if theme_lang is not None:
        theme_lang.set(ox.qn("w:val"), ox.LANGUAGE)
        theme_lang.set(ox.qn("w:eastAsia"), ox.LANGUAGE)


def _marking(p: etree._Element) -> None:
    ppr = p.find(ox.qn("w:pPr"))
    if ppr is None:
        ppr = etree.Element(ox.qn("w:pPr"))
        p.insert(0, ppr)
    ox.el(ppr, "w:jc", {"w:val": "center"})
    ox.run(p, "OFFICIAL-SENSITIVE", bold=True, color="C00000")


def _field(p: etree._Element, instr: str) -> None:
    fld = ox.el(p, "w:fldSimple", {"w:instr": f" {instr} "})
    ox.run(fld, "1", size_half_points=16)


def new_document(council_name: str):
    return Document(io.BytesIO(base_template(council_name)))


def new_fast_document(council_name: str, editable_answers_only: bool = False) -> FastDocument:
    """The council's template for a form: constant parts pre-compressed (see ``_package``)."""
    return FastDocument(split_template(base_template(council_name, editable_answers_only)))


def save(doc) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def append_all(doc, elements: list[etree._Element]) -> None:
    """Insert body elements before the final ``w:sectPr`` in one pass."""
    sect = doc.element.body.find(ox.qn("w:sectPr"))
    for e in elements:
        sect.addprevious(e)


def set_core_properties(doc, identity: PepIdentity, *, title: str, status: str, check: str | None,
                        variant: str, council_name: str, stamp: date | None,
                        version: int | None = None) -> None:
    cp = doc.core_properties
    cp.title = f"Personal Education Plan – {identity.term}"
    cp.subject = title
    cp.identifier = identity.pep_reference
    cp.keywords = f"PEP;{identity.pep_reference}" + (f";check={check}" if check else "")
    cp.category = variant
    cp.content_status = status
    cp.author = council_name
    cp.last_modified_by = council_name
    cp.comments = "OFFICIAL-SENSITIVE"
    cp.language = "en-GB"
    cp.revision = version or 1
    if version is not None:
        cp.version = str(version)
    if stamp is not None:
        moment = datetime(stamp.year, stamp.month, stamp.day, tzinfo=timezone.utc)
        cp.created = moment
        cp.modified = moment


# --------------------------------------------------------------------------- builders

TWO_COLS = (3300, ox.CONTENT_WIDTH - 3300)
#: Grids: the row label column is wide enough for its longest word ("Attendee 8",
#: "Last term's target 5") so no label breaks mid-word.
LABEL_COL = 1700
GRID_COLS = {
    5: (LABEL_COL, ox.CONTENT_WIDTH - LABEL_COL - 3 * 1750, 1750, 1750, 1750),
    4: (LABEL_COL, ox.CONTENT_WIDTH - LABEL_COL - 1900 - 1600, 1900, 1600),
    3: (LABEL_COL, ox.CONTENT_WIDTH - LABEL_COL - 3400, 3400),
}
DETAIL_HEADERS = ("Item", "Details")
QUESTION_HEADERS = ("Question", "Answer")


def table(title: str, widths: tuple[int, ...], headers: tuple[str, ...], description: str | None = None) -> ox.Table:
    """A table with its alt text and a header row (repeated on each page)."""
    t = ox.Table(widths, caption=title,
                 description=description or f"{title}: each row is an item followed by its details.")
    t.header_row(headers)
    return t


def titled(title: str, t: ox.Table, level: int = 2) -> list[etree._Element]:
    """A section: a real heading (navigable, in the PDF's structure), then its table."""
    return [heading(title, level), t.tbl]


def heading(text: str, level: int = 1) -> etree._Element:
    return ox.paragraph(None, text, style=f"Heading{level}", keep_next=True)



def identity_rows(t: ox.Table, identity: PepIdentity, ids: ox.IdSource) -> None:
    for tag, label, value in (
        ("pep.reference", "PEP reference", identity.pep_reference),
        ("pep.child_id", "Child ID", identity.child_id),
        ("pep.term", "Term", identity.term),
        ("pep.academic_year", "Academic year", identity.academic_year),
    ):
        locked_row(t, tag, label, value, ids, bold=tag == "pep.reference")


def locked_row(t: ox.Table, tag: str, label: str, value: str | None, ids: ox.IdSource, *,
               bold: bool = False, multiline: bool = False) -> None:
    tr = t.row()
    t.label_cell(tr, label)
    tc = t.cell(tr, 1, span=len(t.widths) - 1)
    shown = value if value not in (None, "") else NOT_RECORDED
    if multiline:
        ox.block_control(tc, tag=tag, alias=label, ids=ids, lock="sdtContentLocked", value=shown)
    else:
        p = ox.paragraph(tc, space_after=0)
        ox.inline_control(p, tag=tag, alias=label, ids=ids, lock="sdtContentLocked", value=shown, bold=bold)


def details(tables: list[DetailTable], ids: ox.IdSource, level: int = 2) -> list[etree._Element]:
    """Prefilled tables (parts 1 and 2), each under its heading, every value locked."""
    out: list[etree._Element] = []
    for d in tables:
        t = table(d.title, TWO_COLS, DETAIL_HEADERS)
        for row in d.rows:
            locked_row(t, row.tag, row.label, row.value, ids, bold=row.bold, multiline=row.multiline)
        out += titled(d.title, t, level)
    return out


def child_and_placement(content: PepFormContent, ids: ox.IdSource) -> list[etree._Element]:
    return details(child_and_placement_tables(content), ids)


def social_worker_part(content: PepFormContent, ids: ox.IdSource) -> list[etree._Element]:
    return details(social_worker_tables(content), ids)


def field_control(tc: etree._Element, f: FieldSpec, ids: ox.IdSource) -> None:
    """The empty content control for one field in cell ``tc``, an editable range in a protected form."""
    common = {"tag": f.tag, "alias": f.alias, "ids": ids, "lock": "sdtLocked"}
    # every field is an inline control in the cell's paragraph: LibreOffice keeps inline
    # controls (with their placeholder) but turns cell-level ones into input fields; a
    # longer answer's further paragraphs stay in the cell, and are read with it
    p = ox.paragraph(tc, space_after=0)
    _field_control_inline(p, f, ids, common)
    _editable(p, p, ids)


def _editable(first: etree._Element, last: etree._Element, ids: ox.IdSource) -> None:
    """Mark ``first``..``last`` as a range everyone may edit when the form is protected."""
    perm = ids()
    start = etree.Element(ox.qn("w:permStart"))
    start.set(ox.qn("w:id"), perm)
    start.set(ox.qn("w:edGrp"), "everyone")
    ppr = first.find(ox.qn("w:pPr"))
    first.insert(first.index(ppr) + 1 if ppr is not None else 0, start)
    ox.el(last, "w:permEnd", {"w:id": perm})


def _field_control_inline(p: etree._Element, f: FieldSpec, ids: ox.IdSource, common: dict) -> None:
    if f.kind == "bool":
        ox.checkbox_control(p, tag=f"{f.tag}.yes", alias=f"{f.alias}: Yes", ids=ids, lock="sdtLocked")
        ox.run(p, " Yes\t")
        ox.checkbox_control(p, tag=f"{f.tag}.no", alias=f"{f.alias}: No", ids=ids, lock="sdtLocked")
        ox.run(p, " No")
    elif f.kind == "date":
        ox.inline_control(p, kind="date", placeholder=f.placeholder, **common)
    elif f.kind == "sen":
        ox.inline_control(p, kind="dropdown", placeholder=f.placeholder,
                          choices=[(label, key) for key, label in SEN_STATUS_LABELS.items()], **common)
    elif f.kind == "choice":
        ox.inline_control(p, kind="dropdown", placeholder=f.placeholder,
                          choices=[(label, key) for key, label in f.choices], **common)
    else:
        ox.inline_control(p, placeholder=f.placeholder, **common)


def _guidance(section: Section) -> str:
    """Where to type in this section, and that text elsewhere is queried (issue 12)."""
    if section.columns:
        return (f"Type in the boxes of rows 1 to {len(section.rows)}, one per row. Text typed outside the "
                "boxes or in rows you add is not read into the PEP and will be queried with you.")
    return ("Type each answer in the box on the right of its question. Text typed anywhere else is not "
            "read into the PEP and will be queried with you.")


def section_table(section: Section, ids: ox.IdSource) -> list[etree._Element]:
    """A section of parts 3 and 4: its heading, its note, and its table of fields."""
    out = [heading(section.title, 2)]
    out.append(ox.paragraph(None, _guidance(section), italic=True, color="404040", size_half_points=17,
                            space_after=60))
    if section.note:
        out.append(ox.paragraph(None, section.note, italic=True, space_after=60))
    t = ox.Table(section.widths or (GRID_COLS[len(section.columns)] if section.columns else TWO_COLS),
                 caption=section.title, description=section.alt_text)
    t.header_row(section.columns or QUESTION_HEADERS)
    out.append(t.tbl)
    for row in section.rows:
        tr = t.row()
        t.label_cell(tr, row.label, row.hint)
        if section.columns:
            for i, f in enumerate(row.fields, start=1):
                field_control(t.cell(tr, i), f, ids)
        else:
            field_control(t.cell(tr, 1), row.fields[0], ids)
    return out


def document_control(rows: list[tuple[str, str, str]], ids: ox.IdSource) -> list[etree._Element]:
    t = table("Document control (do not change)", TWO_COLS, DETAIL_HEADERS)
    for tag, label, value in rows:
        locked_row(t, tag, label, value, ids)
    return [heading("Document control (do not change)", 2), t.tbl]


# --------------------------------------------------------------------------- the form


#: Content-control ids of the cached parts 3 and 4 start here, clear of parts 1 and 2 (~40 ids).
STATIC_ID_START = 1000


def part_3_author(shape: FormShape) -> str:
    if shape.variant == "early-years-no-setting":
        return "the Health Visitor and carers"
    return "the education provider" if shape.not_on_roll else "the designated teacher"


@lru_cache(maxsize=64)
def _parts_3_and_4(shape: FormShape) -> tuple[etree._Element, ...]:
    """Parts 3 and 4: the same for every form of a shape, so built once and copied.

    They hold nothing about the child (empty controls, labels, hints), and copying the
    finished XML (``deepcopy`` is one C call) is ~10 times faster than building it again.
    What is carried forward from the last PEP is filled into the copy (``carry``).
    """
    who = part_3_author(shape)
    ids = ox.IdSource(STATIC_ID_START)
    body: list[etree._Element] = [heading(part_3_title(shape))]
    body.append(ox.paragraph(None, f"To be completed by {who} before the PEP meeting.", italic=True))
    for section in school_sections(shape):
        body += section_table(section, ids)

    body.append(heading("Part 4: The PEP meeting"))
    body.append(ox.paragraph(None, "Completed at the meeting by the social worker with "
                             f"{who}.", italic=True))
    for section in meeting_sections(shape):
        body += section_table(section, ids)
    return tuple(body)


def render_pep_form(
    identity: PepIdentity,
    content: PepFormContent,
    secret: bytes,
    *,
    council_name: str = DEFAULT_COUNCIL_NAME,
    issued_on: date | None = None,
) -> bytes:
    """The Word form sent to the designated teacher (or Health Visitor and carers)."""
    check = form_check_value(identity.pep_reference, secret)
    shape = shape_of(content)
    doc = new_fast_document(council_name, editable_answers_only=True)
    ids = ox.IdSource()
    who = part_3_author(shape)

    body: list[etree._Element] = [
        ox.paragraph(None, "Personal Education Plan", style="Title", space_after=60),
        ox.paragraph(None, f"{council_name} · Virtual School · {VARIANT_TITLES[content.variant]} PEP",
                     color="404040", size_half_points=22, space_after=120),
    ]
    t = table("PEP details", TWO_COLS, DETAIL_HEADERS)
    identity_rows(t, identity, ids)
    body += [heading("PEP details"), t.tbl]
    intro = (
        f"Parts 1 and 2 were filled in by the {content.social_worker.owner_role.lower()} and are locked. "
        f"Part 3 is for {who} to complete before the PEP meeting. Type each answer in the box to the "
        "right of its question, where it says \u201cClick or tap here to enter text.\u201d or \u201cEnter "
        "text.\u201d (press Enter for a new paragraph), tick Yes or No, and pick dates from the calendar or "
        "type them as 14/10/2026. Only the answer boxes can be edited in Word; if your word processor opens "
        "the form read-only (LibreOffice does), choose Edit Document. Anything written elsewhere (below a "
        "box, between sections, in added rows, in comments or pictures) is not read into the PEP: it will "
        "be queried with you before the form is accepted. Part 4 is completed at the meeting. "
        "Please keep this document secure and return it by the same secure route."
    )
    body.append(ox.paragraph(None, intro, space_after=120))

    body.append(heading("Part 1: Child and placement"))
    body += child_and_placement(content, ids)
    body.append(heading(f"Part 2: {content.social_worker.owner_role}'s part"))
    body += social_worker_part(content, ids)

    parts = [copy.deepcopy(e) for e in _parts_3_and_4(shape)]
    carried = carried_values(content, shape)
    if carried:
        prefill(parts, carried)
        parts.insert(2, ox.paragraph(None, carried_note(content), italic=True, space_after=120))
    body += parts

    body += document_control(
        [
            ("pep.check", "Check value", check),
            ("pep.variant", "Form type", content.variant),
            ("pep.layout", "Form layout", shape.layout()),
            ("pep.issued_on", "Issued on", format_date(issued_on) or None),
        ],
        ids,
    )
    append_all(doc, body)
    set_core_properties(doc, identity, title="PEP form for completion before the meeting",
                        status="Issued for completion", check=check, variant=content.variant,
                        council_name=council_name, stamp=issued_on)
    return doc.save()
