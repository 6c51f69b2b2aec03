"""Account for every piece of text in a returned form that was not read into a field.

The reader marks what it read (a control, or the cell of a free-text answer); everything
else a school typed is a :class:`ReadFinding` with where it was, in the school's words:
text below an answer, beside a question, between sections, in an added table row, in the
page header or footer, in a footnote or a text box; comments; pictures; tracked moves
whose new place is missing.

The form's own printed text (titles, labels, hints, guidance, placeholders, the header
and footer) is recognised as ours by rendering the same form again with
:func:`pepflow.documents.forms.render_pep_form` and collecting its text, so a change to
the form's wording needs no change here. The parts of that text that depend on the PEP
(the council's name, the lead professional's role) are rendered as markers and match
any text; the page numbers of the footer match any number; prefilled values are inside
the locked controls, which are ours whatever they say.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from lxml import etree

from pepflow.documents._docxpkg import W, WordPackage, open_word_package
from pepflow.documents._fields import FieldSpec, FormShape, Section, meeting_sections, school_sections
from pepflow.documents._wtext import (
    PLACEHOLDERS,
    is_skipped,
    node_text,
    norm_label,
    sdt_names,
    skipped,
)
from pepflow.documents.findings import ReadFinding

_P, _T, _TBL, _TR, _TC, _SDT = (f"{{{W}}}{n}" for n in ("p", "t", "tbl", "tr", "tc", "sdt"))
_BODY, _LOCK, _VAL = f"{{{W}}}body", f"{{{W}}}lock", f"{{{W}}}val"
WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
V = "urn:schemas-microsoft-com:vml"
DC = "http://purl.org/dc/elements/1.1/"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_PICTURES = (f"{{{W}}}drawing", f"{{{W}}}pict", f"{{{W}}}object")

_COUNCIL = "Council\u2042marker"
_ROLE = "Role\u2042marker"


def _norm(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


# --------------------------------------------------------------------------- our text


Key = tuple[str, ...]


def table_title(tbl: etree._Element) -> str:
    """A table's title: its caption (alt text), else the heading just before it, else its first cell."""
    caption = tbl.find(f"{{{W}}}tblPr/{{{W}}}tblCaption")
    if caption is not None and caption.get(_VAL):
        return _norm(caption.get(_VAL))
    prev = tbl.getprevious()
    while prev is not None and prev.tag == _P:  # over the section's guidance and note
        style = prev.find(f"{{{W}}}pPr/{{{W}}}pStyle")
        if style is not None and (style.get(_VAL) or "").lower().startswith("heading"):
            return _norm(node_text(prev))
        prev = prev.getprevious()
    first = tbl.find(_TR)
    return _cell_text(first.find(_TC)) if first is not None and first.find(_TC) is not None else ""


def place(p: etree._Element) -> Key:
    """Where a paragraph sits in the form's structure: (table title, row label, column) or body."""
    tc = next(p.iterancestors(_TC), None)
    if tc is None:
        return ("body",)
    tr = tc.getparent()
    cells = tr.findall(_TC)
    return (norm_label(table_title(tr.getparent())), norm_label(_cell_text(cells[0])) if cells else "",
            str(cells.index(tc)))


@dataclass(frozen=True)
class OurText:
    """The form's printed text, by where it is printed (a label is ours only where it is a label)."""

    exact: dict[Key, frozenset[str]]
    patterns: dict[Key, tuple[re.Pattern[str], ...]]
    prefilled: frozenset[str]  # tags and aliases of the locked, prefilled controls
    multiline: frozenset[str] = frozenset()  # those holding paragraphs (LibreOffice splits them in the cell)
    prefilled_places: frozenset[Key] = frozenset()  # the cells holding them (LibreOffice drops their names)

    def prefilled_place(self, key: Key) -> bool:
        return self._resolve(key) in self.prefilled_places

    def has(self, text: str, key: Key, council: str | None = None) -> bool:
        """``text`` is printed by us at ``key``; a line that is only the council's name must be
        the name the form was issued with (``council``, from the file's author)."""
        t = _norm(text)
        if not t or t.casefold() in PLACEHOLDERS:
            return True
        key = self._resolve(key)
        group = self.exact.get(key, frozenset())
        if t in group or any(p.fullmatch(t) for p in self.patterns.get(key, ())):
            return True
        return _COUNCIL in group and council is not None and t == _norm(council)

    def _resolve(self, key: Key) -> Key:
        """A table whose title names the PEP's lead professional ("Filled in by the social worker")."""
        if key in self.exact:
            return key
        for k in self.exact:
            if len(k) == len(key) and any(_ROLE.lower() in part or _COUNCIL.lower() in part for part in k):
                if all(_marker_rx(a).fullmatch(b) for a, b in zip(k, key)):
                    return k
        return key


def _compile(texts: dict[Key, set[str]], digits: bool) -> tuple[dict[Key, frozenset[str]], dict[Key, tuple]]:
    exact: dict[Key, frozenset[str]] = {}
    patterns: dict[Key, tuple] = {}
    for key, group in texts.items():
        ex, pats = set(), []
        for t in group:
            if t != _COUNCIL and (_COUNCIL in t or _ROLE in t or _ROLE.lower() in t or (digits and re.search(r"\d", t))):
                rx = re.escape(t)
                for marker in (_COUNCIL, _ROLE, _ROLE.lower()):
                    rx = rx.replace(re.escape(marker), ".+")
                if digits:
                    rx = re.sub(r"\d+", r"\\d+", rx)
                pats.append(re.compile(rx, re.IGNORECASE))
            else:
                ex.add(t)
        exact[key], patterns[key] = frozenset(ex), tuple(pats)
    return exact, patterns


@lru_cache(maxsize=256)
def _marker_rx(text: str) -> re.Pattern[str]:
    rx = re.escape(text)
    for marker in (_COUNCIL, _ROLE, _ROLE.lower(), _COUNCIL.lower()):
        rx = rx.replace(re.escape(marker), ".+")
    return re.compile(rx, re.IGNORECASE)


@lru_cache(maxsize=64)
def our_text(shape: FormShape) -> OurText:
    """The printed text of the form we issue with ``shape``, rendered again (see the module).

    Parts 3 and 4 depend on the shape only and are rendered for exactly it; the rest of
    the form (title, introduction, parts 1 and 2, document control) is rendered with
    sample content of the same variant, its PEP-specific words as markers."""
    from pepflow.documents import forms  # forms imports this package's modules
    from pepflow.documents.model import (
        ChildDetails,
        MeetingArrangements,
        PepFormContent,
        PepIdentity,
        SettingDetails,
        SocialWorkerPart,
    )

    variant = shape.variant
    no_setting = variant == "early-years-no-setting"
    content = PepFormContent(
        variant=variant,
        child=ChildDetails(name="x", date_of_birth=date(2015, 1, 1), legal_status="x", carer_name="x",
                           placement_type="x"),
        social_worker=SocialWorkerPart(owner_role=_ROLE, owner_name="x"),
        setting=SettingDetails(health_visitor_name="x", carers_names="x") if no_setting
        else SettingDetails(setting_name="x", designated_teacher_name="x"),
        meeting=MeetingArrangements(date=date(2026, 1, 1)),
    )
    identity = PepIdentity(pep_reference="PEP-X", child_id="x", term="Autumn 2026", academic_year="2026/27")
    opened = open_word_package(forms.render_pep_form(identity, content, b"0" * 32, council_name=_COUNCIL))
    body = opened.document.find(_BODY)
    for e in forms._parts_3_and_4(shape):  # noqa: SLF001 - the same elements the form is built from
        body.append(copy.deepcopy(e))
    texts: dict[Key, set[str]] = {}
    for p in opened.document.iter(_P):
        texts.setdefault(place(p), set()).add(_norm(residual(p, None)))
    for kind in ("header", "footer"):
        for _name, root in opened.related(kind):
            for p in root.iter(_P):
                texts.setdefault(("page",), set()).add(_norm(node_text(p)))
    prefilled: set[str] = set()
    multiline: set[str] = set()
    places: set[Key] = set()
    for sdt in opened.document.iter(_SDT):
        lock = sdt.find(f"{{{W}}}sdtPr/{_LOCK}")
        if lock is not None and lock.get(_VAL) == "sdtContentLocked":
            names = {norm_label(n) for n in sdt_names(sdt) if n}
            prefilled |= names
            cell = next(sdt.iterancestors(_TC), None)
            if cell is not None:
                places.add(place(cell.find(_P)) if cell.find(_P) is not None else place(sdt))
            if sdt.getparent().tag == _TC:
                multiline |= names
    page = {("page",): texts.pop(("page",), set())}
    exact, patterns = _compile(texts, digits=False)
    page_exact, page_patterns = _compile(page, digits=True)
    return OurText({**exact, **page_exact}, {**patterns, **page_patterns}, frozenset(prefilled),
                   frozenset(multiline), frozenset(places))


def residual(p: etree._Element, excluded: set[etree._Element] | None, skip: set[etree._Element] | None = None) -> str:
    """The text of paragraph ``p`` outside the controls in ``excluded`` (outside every control if
    ``None``), tracked changes accepted; paragraphs nested in it (a text box) are left out."""
    out: list[str] = []
    skip = skip or set()
    for e in p.iter(_T, f"{{{W}}}tab", f"{{{W}}}br", f"{{{W}}}cr"):
        if skip and is_skipped(e, skip):
            continue
        inside = False
        for a in e.iterancestors():
            if a is p:
                break
            if a.tag == _SDT and (excluded is None or a in excluded):
                inside = True
                break
            if a.tag == _P:  # a paragraph in a text box: read on its own
                inside = True
                break
        if inside:
            continue
        if e.tag == _T:
            out.append(e.text or "")
        elif e.tag == f"{{{W}}}tab":
            if not e.getparent().tag.endswith("}tabs"):
                out.append("\t")
        else:
            out.append("\n")
    return "".join(out)


# --------------------------------------------------------------------------- where


@dataclass
class _Rows:
    """What the reader knows of the form's rows: label -> fields, section titles."""

    rows: dict[str, tuple[FieldSpec, ...]] = field(default_factory=dict)
    titles: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, sections: tuple[Section, ...]) -> _Rows:
        r = cls()
        for s in sections:
            r.titles.add(norm_label(s.title))
            for row in s.rows:
                r.rows[norm_label(row.label)] = row.fields
        return r


def _cell_text(tc: etree._Element) -> str:
    p = tc.find(_P)
    return _norm(node_text(p)) if p is not None else ""


class Completeness:
    """Walk a returned document and report what was neither read nor ours."""

    def __init__(self, opened: WordPackage, read: set[etree._Element], shape: FormShape) -> None:
        self.opened = opened
        self.read = read
        self.ours = our_text(shape)
        self.rows = _Rows.of(school_sections(shape) + meeting_sections(shape))
        self.findings: list[ReadFinding] = []
        self.skip = skipped(opened.document)
        self._context: dict[etree._Element, str] = {}
        creator = opened.core.find(f"{{{DC}}}creator") if opened.core is not None else None
        self.council = creator.text if creator is not None else None  # the form is issued with it as author

    # -- helpers

    def _prefilled(self, sdt: etree._Element) -> bool:
        return any(n and norm_label(n) in self.ours.prefilled for n in sdt_names(sdt))

    def _title_before(self, top: etree._Element) -> str | None:
        if not self._context:
            last = None
            for child in self.opened.document.find(_BODY):
                self._context[child] = last
                if child.tag == _TBL:
                    last = table_title(child) or last
                elif child.tag == _P:
                    text = _norm(node_text(child))
                    if text and self.ours.has(text, ("body",)):
                        last = text
        return self._context.get(top)

    def where(self, p: etree._Element) -> tuple[str, str | None]:
        """Where paragraph ``p`` is, in the school's words, and the field it is nearest."""
        tc = next(p.iterancestors(_TC), None)
        top = p
        for a in p.iterancestors():
            if a.tag == _BODY:
                break
            top = a
        if tc is None:
            title = self._title_before(top)
            return (f"between sections, after “{title}”" if title else "before the first section"), None
        tr = tc.getparent()
        tbl = tr.getparent()
        first = tbl.find(_TR)
        title = table_title(tbl)
        cells = tr.findall(_TC)
        label = _cell_text(cells[0]) if cells else ""
        fields = self.rows.rows.get(norm_label(label))
        if fields is not None:
            col = cells.index(tc)
            if col == 0:
                return f"{label}, beside the question", _field_name(fields[0])
            f = fields[min(col, len(fields)) - 1]
            name = f"{label} – {f.alias_suffix}" if f.alias_suffix else label
            own = [s for s in tc.iter(_SDT) if s in self.read]
            if any(s in own for s in p.iter(_SDT)):
                return f"{name}, beside the answer", _field_name(f)
            before = bool(own) and any(s in own for s in _following(p))
            return f"{name}, {'above' if before else 'below'} the answer", _field_name(f)
        if norm_label(title) in self.rows.titles:
            n = 1
            for row in tbl.findall(_TR):
                if row is tr:
                    break
                first_cell = row.find(_TC)
                if first_cell is not None and norm_label(_cell_text(first_cell)) in self.rows.rows:
                    n += 1
                elif first_cell is not None and row is not first and not self._row_is_ours(row):
                    n += 1
            return f"added row {n} of “{title}”", None
        context = self._title_before(top)
        if title and norm_label(title) in {k[0] for k in self.ours.exact}:
            return f"in the table “{title}”", None
        return (f"in a table added after “{context}”" if context else "in a table added to the form"), None

    def _row_is_ours(self, row: etree._Element) -> bool:
        return all(self.ours.has(residual(p, None, self.skip), place(p)) for p in row.iter(_P))

    # -- the walk

    def run(self) -> list[ReadFinding]:
        doc = self.opened.document
        for p in doc.iter(_P):
            if self.skip and is_skipped(p, self.skip):
                continue
            if self._read_or_prefilled(p):
                continue
            excluded = {s for s in p.iter(_SDT) if s in self.read or self._prefilled(s)}
            text = residual(p, excluded, self.skip)
            if self.ours.has(text, place(p)):
                continue
            where, near = self.where(p)
            self.findings.append(ReadFinding(kind="outside-answers", where=where, text=text.strip(),
                                             reason="typed outside the answer boxes: not read into any answer",
                                             field=near))
        self._pages()
        self._notes()
        self._comments()
        self._pictures()
        self._moves()
        return self.findings

    def _read_or_prefilled(self, p: etree._Element) -> bool:
        if self._prefilled_cell(p):
            return True
        for a in p.iterancestors():
            if a in self.read:
                return True
            if a.tag == _SDT and self._prefilled(a):
                return True
            if a.tag == _TC:
                # a prefilled answer of several paragraphs, which LibreOffice splits into a
                # control and plain paragraphs in the cell (what the school may add there is
                # not told apart from it)
                if any(n and norm_label(n) in self.ours.multiline for s in a.iter(_SDT) for n in sdt_names(s)):
                    return True
        return False

    def _prefilled_cell(self, p: etree._Element) -> bool:
        """A cell we filled and locked (parts 1 and 2, PEP details) whose controls lost their names:
        LibreOffice drops them when it saves, and then the value cannot be told apart from
        anything typed beside it (with the names, only the controls' content is ours)."""
        tc = next(p.iterancestors(_TC), None)
        if tc is None or not self.ours.prefilled_place(place(p)):
            return False
        return not any(any(sdt_names(s)) for s in tc.iter(_SDT))

    def _pages(self) -> None:
        for kind, where in (("header", "in the page header"), ("footer", "in the page footer")):
            for _name, root in self.opened.related(kind):
                for p in root.iter(_P):
                    text = node_text(p)
                    if not self.ours.has(text, ("page",), self.council):
                        self.findings.append(ReadFinding(kind="outside-answers", where=where, text=text.strip(),
                                                         reason="typed in the page header or footer: not read"))

    def _notes(self) -> None:
        for kind, where in (("footnotes", "in a footnote"), ("endnotes", "in an endnote")):
            for _name, root in self.opened.related(kind):
                for note in root:
                    if note.get(f"{{{W}}}type") in ("separator", "continuationSeparator", "continuationNotice"):
                        continue
                    text = node_text(note).strip()
                    if text:
                        self.findings.append(ReadFinding(kind="outside-answers", where=where, text=text,
                                                         reason="typed as a note: not read into any answer"))

    def _comments(self) -> None:
        anchors: dict[str, etree._Element] = {}
        for tag in ("commentRangeStart", "commentReference"):
            for e in self.opened.document.iter(f"{{{W}}}{tag}"):
                anchors.setdefault(e.get(f"{{{W}}}id") or "", e)
        for _name, root in self.opened.related("comments"):
            for c in root.iter(f"{{{W}}}comment"):
                text = node_text(c).strip()
                author = c.get(f"{{{W}}}author") or "someone"
                anchor = anchors.get(c.get(f"{{{W}}}id") or "")
                p = next(anchor.iterancestors(_P), None) if anchor is not None else None
                where, near = self.where(p) if p is not None else ("in the document", None)
                self.findings.append(ReadFinding(kind="comment", where=f"comment by {author}: {where}", text=text,
                                                 reason="a comment is not an answer: read it and act on it",
                                                 field=near))

    def _pictures(self) -> None:
        for e in self.opened.document.iter(*_PICTURES):
            if (self.skip and is_skipped(e, self.skip)) or any(a.tag in _PICTURES for a in e.iterancestors()):
                continue
            if e.find(f".//{{{W}}}txbxContent") is not None and e.find(f".//{{{A}}}blip") is None:
                continue  # a text box: its text is reported where it is, as text
            props = e.find(f".//{{{WP}}}docPr")
            described = ""
            if props is not None:
                described = props.get("descr") or props.get("title") or props.get("name") or ""
            shape = e.find(f".//{{{V}}}shape")
            if not described and shape is not None:
                described = shape.get("alt") or ""
            what = "an embedded object" if e.tag.endswith("}object") else "a picture or drawing"
            p = next(e.iterancestors(_P), None)
            where, near = self.where(p) if p is not None else ("in the document", None)
            self.findings.append(ReadFinding(
                kind="picture", where=where, text=described,
                reason=f"{what} was pasted here; it cannot be read as an answer: look at it in the file",
                field=near))

    def _moves(self) -> None:
        doc = self.opened.document
        to_names = {e.get(f"{{{W}}}name") for e in doc.iter(f"{{{W}}}moveToRangeStart")}
        has_to = next(doc.iter(f"{{{W}}}moveTo"), None) is not None
        current = None
        for e in doc.iter(f"{{{W}}}moveFromRangeStart", f"{{{W}}}moveFrom"):
            if e.tag.endswith("RangeStart"):
                current = e.get(f"{{{W}}}name")
                continue
            if (current is not None and current in to_names) or (current is None and has_to):
                continue
            text = "".join(t.text or "" for t in e.iter(_T)).strip()
            if not text:
                continue
            p = next(e.iterancestors(_P), None)
            where, near = self.where(p) if p is not None else ("in the document", None)
            self.findings.append(ReadFinding(
                kind="unresolved-change", where=where, text=text,
                reason="a tracked move whose new place is missing: the moved text was not read", field=near))


def _field_name(f: FieldSpec) -> str:
    """The field's short name as the read-back reports it ("attendance_percent", "meeting.held_on")."""
    return f.name if f.part == "school" else f"meeting.{f.name}"


def _following(p: etree._Element):
    e = p.getnext()
    while e is not None:
        yield from e.iter(_SDT)
        e = e.getnext()
