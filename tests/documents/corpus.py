"""A corpus of realistic returns: what schools type, where, and what the read-back must do with it.

Each :class:`Case` is a form the product issued, edited as a school edits it (Word-style:
the XML Word writes for that edit; LibreOffice-style: edits made in LibreOffice itself by
``lo_typist.py``), and the list of what was typed with what must come of it: read into a
field exactly, or flagged with a finding of a kind whose text holds what was typed,
verbatim. :func:`check` compares field by field and says whether anything was lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from lxml import etree

from pepflow.documents import ReadBackResult

from .helpers import W, edit_document, edit_part, sdt_by_tag, w

NOTHING = object()
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
PIC = "http://schemas.openxmlformats.org/drawingml/2006/picture"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
WPS = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"


@dataclass(frozen=True)
class Typed:
    text: str  # what the school typed, verbatim
    field: str | None = None  # the field it belongs to ("attendance_percent", "meeting.held_on", "targets.1.who")
    value: Any = NOTHING  # read exactly as this value
    flag: str | None = None  # or flagged with a finding of this kind


@dataclass
class Case:
    name: str
    typed: list[Typed]
    word: Callable[[bytes], bytes] | None = None  # Word-style edit of the issued form
    lo: list[dict] = field(default_factory=list)  # LibreOffice edits (see lo_typist.py)
    variant: str = "school-age"


def value_of(result: ReadBackResult, name: str) -> Any:
    if name.startswith("meeting."):
        obj: Any = result.meeting
        name = name.removeprefix("meeting.")
    else:
        obj = result.values
    for part in name.split("."):
        if part.isdigit():
            items = obj
            obj = items[int(part) - 1] if int(part) <= len(items) else None
        else:
            obj = getattr(obj, part) if obj is not None else None
    return obj


def _flat(text: str) -> str:
    return " ".join(str(text).split())


def check(case: Case, result: ReadBackResult) -> tuple[str, list[str]]:
    """("read" | "flagged" | "lost", problems): every typed piece read exactly or flagged, nothing else flagged."""
    problems: list[str] = []
    lost = False
    read_texts = [_flat(v) for _, v in result.values if v not in (None, [])] + \
        [_flat(v) for _, v in result.meeting if v not in (None, [])]
    for t in case.typed:
        in_findings = [f for f in result.findings if _flat(t.text) in _flat(f.text)]
        if t.flag is not None:
            if not any(f.kind == t.flag for f in in_findings):
                problems.append(f"{t.text!r}: expected a {t.flag!r} finding, got "
                                f"{[(f.kind, f.where, f.text) for f in result.findings]}")
            if t.field is not None and value_of(result, t.field) is not None:
                problems.append(f"{t.field} was set to {value_of(result, t.field)!r} from {t.text!r} and flagged")
        else:
            got = value_of(result, t.field)  # type: ignore[arg-type]
            if got != t.value:
                problems.append(f"{t.field}: expected {t.value!r}, read {got!r}")
        if not in_findings and not any(_flat(t.text) in r or _equal_value(t, result) for r in read_texts):
            lost = True
            problems.append(f"LOST: {t.text!r} was neither read nor flagged")
    expected_flags = [t for t in case.typed if t.flag]
    for f in result.findings:
        if not any(f.kind == t.flag and (_flat(f.text) in _flat(t.text) or _flat(t.text) in _flat(f.text))
                   for t in expected_flags):
            problems.append(f"unexpected finding {f.kind} at {f.where!r}: {f.text!r}")
    seen = [(f.kind, f.where, f.text) for f in result.findings]
    for dup in {x for x in seen if seen.count(x) > 1}:
        problems.append(f"reported twice: {dup}")
    outcome = "lost" if lost else ("flagged" if expected_flags else "read")
    return outcome, problems


def _equal_value(t: Typed, result: ReadBackResult) -> bool:
    return t.field is not None and t.value is not NOTHING and value_of(result, t.field) == t.value


# --------------------------------------------------------------------------- Word-style edits


def _cell_of(root: etree._Element, tag: str) -> etree._Element:
    return next(sdt_by_tag(root, tag).iterancestors(w("tc")))


def _para(text: str) -> etree._Element:
    p = etree.Element(w("p"))
    r = etree.SubElement(p, w("r"))
    etree.SubElement(r, w("t")).text = text
    return p


def para_below(tag: str, text: str) -> Callable[[etree._Element], None]:
    """Enter after the answer and type: a paragraph after the control, in the same cell."""
    def edit(root):
        _cell_of(root, tag).append(_para(text))
    return edit


def in_label_cell(tag: str, text: str) -> Callable[[etree._Element], None]:
    def edit(root):
        label = _cell_of(root, tag).getprevious()
        label.append(_para(text))
    return edit


def _table(root: etree._Element, title: str) -> etree._Element:
    """A section's table, by its title (the table's caption, which is the section heading)."""
    for tbl in root.iter(w("tbl")):
        caption = tbl.find(f"{w('tblPr')}/{w('tblCaption')}")
        if caption is not None and caption.get(w("val")) == title:
            return tbl
    raise LookupError(title)


def between_sections(title: str, text: str) -> Callable[[etree._Element], None]:
    """Typed on the empty line after the table titled ``title``."""
    def edit(root):
        _table(root, title).addnext(_para(text))
    return edit


def added_row(title: str, cells: list[str]) -> Callable[[etree._Element], None]:
    """Word's Insert Row Below at the end of a table: new cells without controls, typed into."""
    def edit(root):
        tr = etree.SubElement(_table(root, title), w("tr"))
        for text in cells:
            tc = etree.SubElement(tr, w("tc"))
            tc.append(_para(text) if text else etree.Element(w("p")))
    return edit


def typed_in(tag: str, *paragraphs_or_runs: etree._Element) -> Callable[[etree._Element], None]:
    """Replace a control's content with the given Word XML (runs, or paragraphs for a block control)."""
    def edit(root):
        sdt = sdt_by_tag(root, tag)
        pr = sdt.find(w("sdtPr"))
        for flag in pr.findall(w("showingPlcHdr")):
            pr.remove(flag)
        content = sdt.find(w("sdtContent"))
        for child in list(content):
            content.remove(child)
        for e in paragraphs_or_runs:
            content.append(e)
    return edit


def xml(fragment: str) -> etree._Element:
    return etree.fromstring(
        f'<root xmlns:w="{W}" xmlns:wp="{WP}" xmlns:a="{A}" xmlns:pic="{PIC}" '
        f'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">{fragment}</root>'
    )[0]


def replace_cell(tag: str, text: str) -> Callable[[etree._Element], None]:
    """The control deleted and words typed in its place (e.g. over a drop-down or the check boxes)."""
    def edit(root):
        tc = _cell_of(root, tag)
        for child in list(tc):
            if child.tag != w("tcPr"):
                tc.remove(child)
        tc.append(_para(text))
    return edit


def picture(tag: str, description: str) -> Callable[[etree._Element], None]:
    """A picture pasted into the answer cell (an inline drawing, as Word writes it)."""
    def edit(root):
        p = xml(f"""<w:p><w:r><w:drawing><wp:inline><wp:extent cx="914400" cy="914400"/>
            <wp:docPr id="7" name="Picture 7" descr="{description}"/>
            <a:graphic><a:graphicData uri="{PIC}"><pic:pic><pic:nvPicPr><pic:cNvPr id="7" name="drawing.png"/>
            <pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:embed="rIdMissing"/></pic:blipFill>
            <pic:spPr/></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>""")
        _cell_of(root, tag).append(p)
    return edit


def text_box_between_sections(title: str, text: str) -> Callable[[etree._Element], None]:
    """A text box drawn after a section: Word writes it twice (DrawingML and a VML fallback)."""
    def edit(root):
        box = f"<w:txbxContent><w:p>{run(text)}</w:p></w:txbxContent>"
        p = xml(f"""<w:p><w:r><mc:AlternateContent xmlns:mc="{MC}"><mc:Choice Requires="wps">
            <w:drawing><wp:anchor><wp:docPr id="9" name="Text Box 9"/><a:graphic><a:graphicData
            uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"><wps:wsp xmlns:wps="{WPS}">
            <wps:txbx>{box}</wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>
            <mc:Fallback><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml"><v:textbox>{box}</v:textbox>
            </v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>""")
        _table(root, title).addnext(p)
    return edit


def libreoffice_split_answer(tag: str, first: str, second: str) -> Callable[[etree._Element], None]:
    """Enter inside an answer in LibreOffice: the first paragraph in the control, a second, empty copy
    of the control (no tag, same title) starting the next paragraph, the typing after it."""
    def edit(root):
        sdt = sdt_by_tag(root, tag)
        typed_in(tag, *paras(first))(root)
        copy = etree.fromstring(etree.tostring(sdt))
        pr = copy.find(w("sdtPr"))
        pr.remove(pr.find(w("tag")))
        content = copy.find(w("sdtContent"))
        for child in list(content):
            content.remove(child)
        p = etree.Element(w("p"))
        p.append(copy)
        p.append(xml(run(second)))
        sdt.addnext(p)
    return edit


def header_text(text: str) -> Callable[[bytes], bytes]:
    def edit(docx: bytes) -> bytes:
        return edit_part(docx, "word/header1.xml", lambda root: root.append(_para(text)))
    return edit


COMMENTS_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.comments+xml"
COMMENTS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments"


def comment(tag: str, text: str, author: str = "D. Teacher") -> Callable[[bytes], bytes]:
    """A Word comment on an answer: the range marks in the body, the comment in word/comments.xml."""
    def edit(docx: bytes) -> bytes:
        def mark(root):
            p = next(sdt_by_tag(root, tag).iterancestors(w("p")))
            p.insert(0, xml('<w:commentRangeStart w:id="0"/>'))
            p.append(xml('<w:commentRangeEnd w:id="0"/>'))
            p.append(xml('<w:r><w:commentReference w:id="0"/></w:r>'))
        out = edit_document(docx, mark)
        out = _add_part(out, "word/comments.xml", (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:comments xmlns:w="{W}">'
            f'<w:comment w:id="0" w:author="{author}" w:date="2026-10-01T09:00:00Z" w:initials="DT">'
            f'<w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:comment></w:comments>').encode(),
            COMMENTS_CT, COMMENTS_REL, "comments.xml")
        return out
    return edit


FOOTNOTES_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
FOOTNOTES_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes"


def footnote(tag: str, text: str) -> Callable[[bytes], bytes]:
    """A footnote on an answer: the reference in the body, the note in word/footnotes.xml."""
    def edit(docx: bytes) -> bytes:
        def mark(root):
            next(sdt_by_tag(root, tag).iterancestors(w("p"))).append(xml('<w:r><w:footnoteReference w:id="1"/></w:r>'))
        out = edit_document(docx, mark)
        return _add_part(out, "word/footnotes.xml", (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:footnotes xmlns:w="{W}">'
            '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
            '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p>'
            f'</w:footnote><w:footnote w:id="1"><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:footnote></w:footnotes>'
        ).encode(), FOOTNOTES_CT, FOOTNOTES_REL, "footnotes.xml")
    return edit


def _add_part(docx: bytes, name: str, data: bytes, ctype: str, rel_type: str, target: str) -> bytes:
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "[Content_Types].xml":
                body = body.replace(b"</Types>", f'<Override PartName="/{name}" ContentType="{ctype}"/></Types>'.encode())
            elif info.filename == "word/_rels/document.xml.rels":
                body = body.replace(b"</Relationships>",
                                    f'<Relationship Id="rIdC1" Type="{rel_type}" Target="{target}"/></Relationships>'
                                    .encode())
            dst.writestr(info.filename, body)
        dst.writestr(name, data)
    return out.getvalue()


def run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def paras(*lines: str) -> list[etree._Element]:
    return [xml(f"<w:p>{run(line)}</w:p>") for line in lines]


def compose(*edits: Callable[[etree._Element], None]) -> Callable[[bytes], bytes]:
    def edit(docx: bytes) -> bytes:
        def all_(root):
            for e in edits:
                e(root)
        return edit_document(docx, all_)
    return edit

