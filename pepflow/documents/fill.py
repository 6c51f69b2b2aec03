"""Filling a PEP form programmatically, as a school does in Word.

The demo's simulated schools use it to return forms, and the tests use it for the
round trip. It only edits forms this product generated (tags it knows), with a safe
XML parser all the same.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import date

from lxml import etree

from .model import (
    ATTENDANCE_LABELS,
    PRIMARY_NEED_LABELS,
    SEN_STATUS_LABELS,
    TARGET_OUTCOME_LABELS,
    MeetingRecord,
    SchoolReturn,
)

#: Drop-downs show words, not the stored value: what a person picks, by field name.
_CHOICE_WORDS = {
    "sen_status": SEN_STATUS_LABELS,
    "sen_primary_need": PRIMARY_NEED_LABELS,
    "outcome": TARGET_OUTCOME_LABELS,
    "attendance": ATTENDANCE_LABELS,
}

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def w(name: str) -> str:
    return f"{{{W}}}{name}"


def edit_part(docx: bytes, name: str, fn: Callable[[etree._Element], None] | Callable[[bytes], bytes],
              raw: bool = False) -> bytes:
    """Rewrite one part of the package, copying the rest unchanged."""
    src = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == name:
                if raw:
                    data = fn(data)  # type: ignore[assignment]
                else:
                    root = etree.fromstring(data, _PARSER)
                    fn(root)
                    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            dst.writestr(info.filename, data)
    return out.getvalue()


def edit_document(docx: bytes, fn: Callable[[etree._Element], None]) -> bytes:
    return edit_part(docx, "word/document.xml", fn)


def document_root(docx: bytes) -> etree._Element:
    return etree.fromstring(zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml"), _PARSER)


def sdt_by_tag(root: etree._Element, tag: str) -> etree._Element:
    found = root.xpath("//w:sdt[w:sdtPr/w:tag/@w:val=$t]", namespaces={"w": W}, t=tag)
    if len(found) != 1:
        raise LookupError(f"expected one content control tagged {tag!r}, found {len(found)}")
    return found[0]


def set_text(root: etree._Element, tag: str, text: str) -> None:
    """Type into a content control as Word does: placeholder flag gone, new runs."""
    sdt = sdt_by_tag(root, tag)
    pr = sdt.find(w("sdtPr"))
    for flag in pr.findall(w("showingPlcHdr")):
        pr.remove(flag)
    content = sdt.find(w("sdtContent"))
    block = content.find(w("p")) is not None
    for child in list(content):
        content.remove(child)
    if block:
        for line in text.split("\n"):
            r = etree.SubElement(etree.SubElement(content, w("p")), w("r"))
            etree.SubElement(r, w("t")).text = line
        return
    r = etree.SubElement(content, w("r"))  # an inline control: lines by breaks, as Shift+Enter types them
    for i, line in enumerate(text.split("\n")):
        if i:
            etree.SubElement(r, w("br"))
        etree.SubElement(r, w("t")).text = line


def set_date(root: etree._Element, tag: str, value: date) -> None:
    set_text(root, tag, value.strftime("%d/%m/%Y"))
    sdt_by_tag(root, tag).find(w("sdtPr")).find(w("date")).set(w("fullDate"), f"{value.isoformat()}T00:00:00Z")


def tick(root: etree._Element, tag: str, checked: bool = True) -> None:
    sdt = sdt_by_tag(root, tag)
    sdt.find(f"{w('sdtPr')}/{{{W14}}}checkbox/{{{W14}}}checked").set(f"{{{W14}}}val", "1" if checked else "0")
    sdt.find(f"{w('sdtContent')}//{w('t')}").text = "☒" if checked else "☐"


def fill_value(root: etree._Element, tag: str, value: object) -> None:
    if value is None:
        return
    words = _CHOICE_WORDS.get(tag.rsplit(".", 1)[-1])
    if isinstance(value, bool):
        tick(root, f"{tag}.{'yes' if value else 'no'}")
    elif isinstance(value, date):
        set_date(root, tag, value)
    elif words is not None:
        set_text(root, tag, words[value])  # the drop-down shows the display text
    else:
        set_text(root, tag, str(value))


def _fill_part(root: etree._Element, part: str, values: SchoolReturn | MeetingRecord) -> None:
    for name, value in values:
        if name == "next_meeting_dates":
            for i, d in enumerate(value, start=1):
                fill_value(root, f"{part}.{name}.{i}", d)
        elif isinstance(value, list):  # a grid: row n, or the item's own number
            for i, item in enumerate(value, start=1):
                row = getattr(item, "number", None) or i
                for column, cell in item:
                    if column != "number":
                        fill_value(root, f"{part}.{name}.{row}.{column}", cell)
        else:
            fill_value(root, f"{part}.{name}", value)


def fill_form(docx: bytes, values: SchoolReturn, meeting: MeetingRecord | None = None) -> bytes:
    """Fill the designated teacher's part (and the meeting part) as a school would."""

    def fill(root: etree._Element) -> None:
        _fill_part(root, "school", values)
        if meeting is not None:
            _fill_part(root, "meeting", meeting)

    return edit_document(docx, fill)
