"""Small, fast WordprocessingML builders (content controls, tables, paragraphs).

python-docx has no API for content controls and its table API re-computes the cell grid
on every ``table.cell()`` call, so a form built through it gets slower with every row.
These helpers build the XML directly, in one pass, appending elements as they go.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Iterable, Literal

from docx.oxml import OxmlElement
from docx.oxml.ns import qn as _qn
from lxml import etree

W14_NS = "http://schemas.microsoft.com/office/word/2010/wordml"
PAGE_WIDTH = 11906  # A4, twips
PAGE_HEIGHT = 16838
MARGIN = 1134  # 2 cm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN

LABEL_FILL = "E8EEF6"
TITLE_FILL = "1F3864"
HEADER_FILL = "D5DFEE"
PLACEHOLDER_STYLE = "PlaceholderText"
PLACEHOLDER_COLOR = "767676"  # grey with 4.5:1 contrast on white (WCAG AA)
LANGUAGE = "en-GB"

qn = lru_cache(maxsize=None)(_qn)

# Body XML is built with a plain lxml parser: python-docx's custom element-class lookup
# costs a few microseconds per element, and a form has thousands of them. The elements
# are moved into the python-docx document at the end; it reads none of them.
_PLAIN = etree.XMLParser()


def new(tag: str) -> etree._Element:
    return _PLAIN.makeelement(qn(tag), nsmap={"w": qn("w:p").split("}")[0][1:], "w14": W14_NS})

Lock = Literal["sdtLocked", "sdtContentLocked"]


def el(parent: etree._Element, tag: str, attrs: dict[str, str] | None = None) -> etree._Element:
    """Append ``<tag attrs/>`` (prefixed names, e.g. ``w:val``) to ``parent``."""
    child = etree.SubElement(parent, qn(tag))
    if attrs:
        for k, v in attrs.items():
            child.set(qn(k), v)
    return child


def run(
    parent: etree._Element,
    text: str,
    *,
    bold: bool = False,
    italic: bool = False,
    color: str | None = None,
    size_half_points: int | None = None,
    style: str | None = None,
    font: str | None = None,
) -> etree._Element:
    """Append a run (marked British English); newlines in ``text`` become ``w:br``, tabs ``w:tab``.

    A placeholder (``style=PLACEHOLDER_STYLE``) is also grey and italic by direct
    formatting: LibreOffice does not show Word's placeholder style, and a placeholder
    must never look like an answer."""
    r = el(parent, "w:r")
    rpr = el(r, "w:rPr")
    if style:
        el(rpr, "w:rStyle", {"w:val": style})
        if style == PLACEHOLDER_STYLE:
            italic, color = True, color or PLACEHOLDER_COLOR
    if font:
        el(rpr, "w:rFonts", {"w:ascii": font, "w:eastAsia": font, "w:hAnsi": font, "w:hint": "eastAsia"})
    if bold:
        el(rpr, "w:b")
    if italic:
        el(rpr, "w:i")
    if color:
        el(rpr, "w:color", {"w:val": color})
    if size_half_points:
        el(rpr, "w:sz", {"w:val": str(size_half_points)})
    el(rpr, "w:lang", {"w:val": LANGUAGE, "w:eastAsia": LANGUAGE, "w:bidi": "ar-SA"})
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if i:
            el(r, "w:br")
        parts = line.split("\t")
        for j, part in enumerate(parts):
            if j:
                el(r, "w:tab")
            if part:
                t = el(r, "w:t")
                t.text = part
                if part != part.strip():
                    t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    return r


def paragraph(
    parent: etree._Element | None = None,
    text: str = "",
    *,
    style: str | None = None,
    align: str | None = None,
    space_after: int | None = None,
    keep_next: bool = False,
    **run_kw,
) -> etree._Element:
    p = el(parent, "w:p") if parent is not None else new("w:p")
    if style or align or space_after is not None or keep_next:
        ppr = el(p, "w:pPr")
        if style:
            el(ppr, "w:pStyle", {"w:val": style})
        if keep_next:
            el(ppr, "w:keepNext")
        if space_after is not None:
            el(ppr, "w:spacing", {"w:before": "0", "w:after": str(space_after)})
        if align:
            el(ppr, "w:jc", {"w:val": align})
    if text:
        run(p, text, **run_kw)
    return p


class IdSource:
    """Unique ``w:id`` values for the content controls of one document."""

    def __init__(self, start: int = 100) -> None:
        self._next = start

    def __call__(self) -> str:
        self._next += 1
        return str(self._next)


def _sdt_pr(sdt: etree._Element, tag: str, alias: str, ids: IdSource, lock: Lock, placeholder: bool) -> etree._Element:
    pr = el(sdt, "w:sdtPr")
    el(pr, "w:alias", {"w:val": alias})
    el(pr, "w:tag", {"w:val": tag})
    el(pr, "w:id", {"w:val": ids()})
    el(pr, "w:lock", {"w:val": lock})
    if placeholder:
        el(pr, "w:showingPlcHdr")
    return pr


def inline_control(
    p: etree._Element,
    *,
    tag: str,
    alias: str,
    ids: IdSource,
    lock: Lock,
    value: str | None = None,
    placeholder: str = "Enter text.",
    kind: Literal["text", "date", "dropdown"] = "text",
    date_value: date | None = None,
    choices: Iterable[tuple[str, str]] = (),
    bold: bool = False,
) -> etree._Element:
    """A run-level content control in paragraph ``p``: plain text, date picker or drop-down."""
    sdt = OxmlElement("w:sdt")
    p.append(sdt)
    empty = value is None or value == ""
    pr = _sdt_pr(sdt, tag, alias, ids, lock, empty)
    if kind == "text":
        # a rich-text control, not plain text (``w:text``): LibreOffice turns a plain-text
        # control into an input field whose placeholder reads like an answer, but keeps a
        # rich-text one as a control showing its grey placeholder
        pass
    elif kind == "date":
        d = el(pr, "w:date")
        if date_value is not None:
            d.set(qn("w:fullDate"), f"{date_value.isoformat()}T00:00:00Z")
        el(d, "w:dateFormat", {"w:val": "dd/MM/yyyy"})
        el(d, "w:lid", {"w:val": "en-GB"})
        el(d, "w:storeMappedDataAs", {"w:val": "dateTime"})
        el(d, "w:calendar", {"w:val": "gregorian"})
    else:
        dd = el(pr, "w:dropDownList")
        for display, val in choices:
            el(dd, "w:listItem", {"w:displayText": display, "w:value": val})
    content = el(sdt, "w:sdtContent")
    if empty:
        run(content, placeholder, style=PLACEHOLDER_STYLE)
    else:
        run(content, value, bold=bold)
    return sdt


def block_control(
    tc: etree._Element,
    *,
    tag: str,
    alias: str,
    ids: IdSource,
    lock: Lock,
    value: str | None = None,
    placeholder: str = "Click or tap here to enter text.",
) -> etree._Element:
    """A cell-level rich-text content control holding one paragraph per line of ``value``."""
    sdt = OxmlElement("w:sdt")
    tc.append(sdt)
    empty = value is None or value == ""
    _sdt_pr(sdt, tag, alias, ids, lock, empty)
    content = el(sdt, "w:sdtContent")
    if empty:
        run(paragraph(content, space_after=0), placeholder, style=PLACEHOLDER_STYLE)
    else:
        for line in value.split("\n"):
            paragraph(content, line, space_after=60)
    return sdt


def checkbox_control(
    p: etree._Element, *, tag: str, alias: str, ids: IdSource, lock: Lock, checked: bool = False
) -> etree._Element:
    """A Word 2010 check box (``w14:checkbox``) in paragraph ``p``."""
    sdt = OxmlElement("w:sdt")
    p.append(sdt)
    pr = _sdt_pr(sdt, tag, alias, ids, lock, False)
    cb = etree.SubElement(pr, f"{{{W14_NS}}}checkbox")
    etree.SubElement(cb, f"{{{W14_NS}}}checked").set(f"{{{W14_NS}}}val", "1" if checked else "0")
    for name, code in (("checkedState", "2612"), ("uncheckedState", "2610")):
        s = etree.SubElement(cb, f"{{{W14_NS}}}{name}")
        s.set(f"{{{W14_NS}}}val", code)
        s.set(f"{{{W14_NS}}}font", "MS Gothic")
    content = el(sdt, "w:sdtContent")
    run(content, "☒" if checked else "☐", font="MS Gothic")
    return sdt


class Table:
    """A fixed-layout table built row by row in O(rows)."""

    def __init__(self, widths: tuple[int, ...], *, caption: str | None = None, description: str | None = None) -> None:
        """``caption`` and ``description`` are the table's alt text (title and summary),
        read out by screen readers and carried into the tagged PDF."""
        self.widths = widths
        self.tbl = new("w:tbl")
        pr = el(self.tbl, "w:tblPr")
        el(pr, "w:tblStyle", {"w:val": "TableGrid"})
        el(pr, "w:tblW", {"w:w": str(sum(widths)), "w:type": "dxa"})
        el(pr, "w:tblLayout", {"w:type": "fixed"})
        mar = el(pr, "w:tblCellMar")
        for side in ("top", "left", "bottom", "right"):
            el(mar, f"w:{side}", {"w:w": "57" if side in ("top", "bottom") else "85", "w:type": "dxa"})
        el(pr, "w:tblLook", {"w:val": "04A0", "w:firstRow": "1", "w:lastRow": "0", "w:firstColumn": "1",
                             "w:lastColumn": "0", "w:noHBand": "0", "w:noVBand": "1"})
        if caption:
            el(pr, "w:tblCaption", {"w:val": caption[:255]})
        if description:
            el(pr, "w:tblDescription", {"w:val": description[:4000]})
        grid = el(self.tbl, "w:tblGrid")
        for w in widths:
            el(grid, "w:gridCol", {"w:w": str(w)})

    def row(self, *, header: bool = False, cant_split: bool = True) -> etree._Element:
        tr = el(self.tbl, "w:tr")
        if header or cant_split:
            trpr = el(tr, "w:trPr")
            if cant_split:
                el(trpr, "w:cantSplit")
            if header:
                el(trpr, "w:tblHeader")
        return tr

    def cell(self, tr: etree._Element, col: int, *, span: int = 1, fill: str | None = None) -> etree._Element:
        tc = el(tr, "w:tc")
        pr = el(tc, "w:tcPr")
        el(pr, "w:tcW", {"w:w": str(sum(self.widths[col : col + span])), "w:type": "dxa"})
        if span > 1:
            el(pr, "w:gridSpan", {"w:val": str(span)})
        if fill:
            el(pr, "w:shd", {"w:val": "clear", "w:color": "auto", "w:fill": fill})
        return tc

    def header_row(self, names: tuple[str, ...]) -> None:
        """The column headings, repeated on each page and read as headers (``w:tblHeader``)."""
        tr = self.row(header=True)
        for i, name in enumerate(names):
            paragraph(self.cell(tr, i, fill=HEADER_FILL), name, bold=True, space_after=0)

    def title_row(self, title: str) -> None:
        tr = self.row(header=True)
        tc = self.cell(tr, 0, span=len(self.widths), fill=TITLE_FILL)
        paragraph(tc, title, bold=True, color="FFFFFF", space_after=0, keep_next=True)

    def label_cell(self, tr: etree._Element, label: str, hint: str | None = None) -> etree._Element:
        tc = self.cell(tr, 0, fill=LABEL_FILL)
        paragraph(tc, label, bold=True, space_after=0)
        if hint:
            paragraph(tc, hint, italic=True, color="404040", size_half_points=17, space_after=0)
        return tc

    def text_row(self, label: str, value: str, *, span_value: bool = True) -> None:
        """A plain (uncontrolled) label/value row."""
        tr = self.row()
        self.label_cell(tr, label)
        tc = self.cell(tr, 1, span=len(self.widths) - 1 if span_value else 1)
        for line in (value or "").split("\n"):
            paragraph(tc, line, space_after=0)
