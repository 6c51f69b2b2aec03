"""Read the designated teacher's part back out of a returned PEP form.

Hostile input is refused before anything is parsed: the size of the file and of every
zip entry is checked in the zip directory before inflating, and inflation stops at the
limit; OLE compound files (old .doc, and password-encrypted .docx unless its password
is given: see ``protection.unprotect``), macro-enabled content and DTDs/entity
declarations are refused. XML is parsed with a parser that resolves no
entities, loads no DTD, touches no network and has huge_tree off.

Each field is found by its content-control tag, then its alias (LibreOffice drops
``w:tag`` when it re-saves a file but keeps ``w:alias``), then its visible label.
Empty fields are "not provided" (``None``); fields whose control cannot be found at
all are listed in ``missing_fields``; values that cannot be understood (``"ninety"``
in a percentage) are left ``None`` and listed in ``invalid_fields`` with the raw text.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from posixpath import join as posix_join, normpath
from typing import Any, Literal

from lxml import etree
from pydantic import BaseModel, ConfigDict, ValidationError

from pepflow.documents._fields import (
    NEXT_MEETING_ROWS,
    NO_GLYPHS,
    YES_GLYPHS,
    FieldSpec,
    FormShape,
    Grid,
    all_fields,
    grids,
    meeting_sections,
    school_sections,
)
from pepflow.documents.findings import ReadFinding
from pepflow.documents.model import (
    SEN_STATUS_LABELS,
    VARIANTS,
    MeetingRecord,
    PepIdentity,
    SchoolReturn,
    Variant,
    check_value_matches,
)

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W_STRICT = "http://purl.oclc.org/ooxml/wordprocessingml/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CP_NS = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
DC_NS = "http://purl.org/dc/elements/1.1/"

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
WORD_MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
}

# --------------------------------------------------------------------------- errors


class DocumentRejected(Exception):
    """The file cannot be accepted as a return for this PEP. ``str(exc)`` is for people."""


class NotAWordFile(DocumentRejected):
    pass


class UnsafeXml(NotAWordFile):
    """An XML part declares a DOCTYPE or entities (never written by Word)."""


class MacroEnabled(DocumentRejected):
    pass


class Encrypted(DocumentRejected):
    """A password-protected file, read without its password."""


class WrongPassword(Encrypted):
    """A password-protected file the given password does not open."""


class TooLarge(DocumentRejected):
    pass


class NotAPepForm(DocumentRejected):
    """A Word file without the PEP details a form issued by us carries."""


class WrongPep(DocumentRejected):
    def __init__(self, message: str, *, expected_reference: str, found_reference: str | None) -> None:
        super().__init__(message)
        self.expected_reference = expected_reference
        self.found_reference = found_reference


@dataclass(frozen=True)
class ReadLimits:
    max_file_bytes: int = 25 * 1024 * 1024
    max_entries: int = 2000
    max_part_bytes: int = 20 * 1024 * 1024  # each XML part we inflate
    max_total_uncompressed: int = 500 * 1024 * 1024  # sum over the zip directory
    max_ratio: int = 200  # inflated/compressed, checked for entries over 1 MiB


DEFAULT_LIMITS = ReadLimits()


class ReadBackResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    identity: PepIdentity
    variant: Variant
    values: SchoolReturn
    meeting: MeetingRecord
    missing_fields: list[str]
    invalid_fields: dict[str, str]
    found_by: dict[str, Literal["tag", "alias", "label"]]
    findings: list[ReadFinding] = []
    """Everything that was not simply read into a field (see :mod:`pepflow.documents.findings`)."""


# --------------------------------------------------------------------------- package


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_pis=True,
        collect_ids=False,
    )


def _has_dtd(data: bytes) -> bool:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return True
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        stripped = data.replace(b"\x00", b"")
        return b"<!DOCTYPE" in stripped or b"<!ENTITY" in stripped
    return False


def parse_xml(data: bytes, part: str) -> etree._Element:
    if _has_dtd(data):
        raise UnsafeXml(f"The file's {part} part declares a DOCTYPE or entities; Word never does. Refused.")
    try:
        tree = etree.fromstring(data, _safe_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise NotAWordFile(f"The file's {part} part is not well-formed XML ({exc.msg}).") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXml(f"The file's {part} part declares a DOCTYPE. Refused.")
    return tree.getroot()


class _Package:
    """A zip opened with every size checked before and during inflation."""

    def __init__(self, data: bytes, limits: ReadLimits) -> None:
        self.limits = limits
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError):
            raise NotAWordFile("The file is damaged or truncated: it is not a readable Word (.docx) file.") from None
        if len(infos) > limits.max_entries:
            raise TooLarge(f"The file has {len(infos)} parts; at most {limits.max_entries} are accepted.")
        total = 0
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            total += info.file_size
            name = info.filename
            lower = name.lower()
            if lower.endswith("vbaproject.bin") or lower.endswith("vbadata.xml"):
                raise MacroEnabled("The file contains macros (a VBA project). Please save it as a Word Document (.docx).")
            if info.flag_bits & 0x1:
                raise Encrypted("The file is password-protected. Please remove the password and return it.")
            self.infos.setdefault(name, info)
        if total > limits.max_total_uncompressed:
            raise TooLarge(
                f"The file would expand to {total // (1024 * 1024)} MiB; at most "
                f"{limits.max_total_uncompressed // (1024 * 1024)} MiB is accepted."
            )

    def has(self, name: str) -> bool:
        return name in self.infos

    def read(self, name: str) -> bytes:
        info = self.infos[name]
        limit = self.limits.max_part_bytes
        if info.file_size > limit:
            raise TooLarge(f"The part {name} is {info.file_size} bytes once inflated; at most {limit} are accepted.")
        if info.file_size > 1024 * 1024 and info.file_size > self.limits.max_ratio * max(info.compress_size, 1):
            raise TooLarge(f"The part {name} is compressed suspiciously well (a zip bomb?). Refused.")
        chunks: list[bytes] = []
        seen = 0
        try:
            with self.zf.open(info) as fh:
                while True:
                    chunk = fh.read(64 * 1024)
                    if not chunk:
                        break
                    seen += len(chunk)
                    if seen > limit:
                        raise TooLarge(f"The part {name} inflates past {limit} bytes. Refused.")
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            raise NotAWordFile(f"The file is damaged: its part {name} cannot be read ({exc}).") from None
        return b"".join(chunks)

    def xml(self, name: str) -> etree._Element:
        return parse_xml(self.read(name), name)


def looks_like_protected_docx(data: bytes) -> bool:
    """An OLE file naming the streams of an encrypted OOXML package (not a .doc)."""
    return data[:8] == OLE_MAGIC and (
        "EncryptionInfo".encode("utf-16-le") in data or "EncryptedPackage".encode("utf-16-le") in data
    )


def open_word_document(data: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> tuple[etree._Element, etree._Element | None]:
    """Check a file and return the parsed main document part and core properties (if any)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("expected the file's bytes")
    data = bytes(data)
    if len(data) > limits.max_file_bytes:
        raise TooLarge(
            f"The file is {len(data) // 1024} KiB; at most {limits.max_file_bytes // 1024} KiB is accepted."
        )
    if data[:8] == OLE_MAGIC:
        if looks_like_protected_docx(data):
            raise Encrypted(
                "The file is password-protected and no password was given to open it. Give the document's "
                "password, or ask the school to remove the password and return it."
            )
        raise NotAWordFile(
            "The file is an old-style Word 97-2003 (.doc) or other OLE file. Please save it as a Word Document (.docx)."
        )
    if data[:4] != b"PK\x03\x04":
        raise NotAWordFile("The file is not a Word (.docx) document.")
    pkg = _Package(data, limits)
    if not pkg.has("[Content_Types].xml"):
        raise NotAWordFile("The file is a zip archive but not a Word document (no [Content_Types].xml).")
    types = pkg.xml("[Content_Types].xml")
    overrides: dict[str, str] = {}
    for node in types:
        ctype = (node.get("ContentType") or "").strip()
        if "macroenabled" in ctype.lower() or "vbaproject" in ctype.lower():
            raise MacroEnabled("The file is macro-enabled (.docm). Please save it as a Word Document (.docx).")
        if node.tag == f"{{{CT_NS}}}Override":
            overrides[(node.get("PartName") or "").lstrip("/")] = ctype

    main = _main_part_name(pkg)
    if main is None or not pkg.has(main):
        raise NotAWordFile("The file does not contain a Word document body.")
    ctype = overrides.get(main)
    if ctype not in WORD_MAIN_TYPES:
        raise NotAWordFile(f"The file is not a Word document (its main part is {ctype or 'untyped'}).")
    document = pkg.xml(main)
    if document.tag == f"{{{W_STRICT}}}document":
        raise NotAWordFile("The file is saved as Strict Open XML. Please save it as a Word Document (.docx).")
    if document.tag != f"{{{W}}}document":
        raise NotAWordFile("The file's main part is not a Word document body.")
    core = pkg.xml("docProps/core.xml") if pkg.has("docProps/core.xml") else None
    return document, core


def _main_part_name(pkg: _Package) -> str | None:
    if not pkg.has("_rels/.rels"):
        return "word/document.xml"
    rels = pkg.xml("_rels/.rels")
    for rel in rels.iter(f"{{{REL_NS}}}Relationship"):
        if (rel.get("Type") or "").endswith("/officeDocument") and rel.get("TargetMode") != "External":
            target = rel.get("Target") or ""
            name = normpath(posix_join("/", target)).lstrip("/")
            return name
    return None


# --------------------------------------------------------------------------- text

_W_P, _W_T, _W_TAB, _W_BR, _W_CR = (f"{{{W}}}{n}" for n in ("p", "t", "tab", "br", "cr"))
_W_SDT, _W_SDTPR, _W_SDTCONTENT = f"{{{W}}}sdt", f"{{{W}}}sdtPr", f"{{{W}}}sdtContent"
_W_TAG, _W_ALIAS, _W_VAL = f"{{{W}}}tag", f"{{{W}}}alias", f"{{{W}}}val"
_W_TC, _W_TR = f"{{{W}}}tc", f"{{{W}}}tr"

PLACEHOLDERS = frozenset(
    {
        "enter text.",
        "enter a date.",
        "choose an item.",
        "click or tap here to enter text.",
        "click or tap to enter a date.",
        "click here to enter text.",
        "click here to enter a date.",
    }
)


def node_text(node: etree._Element) -> str:
    """Visible text under ``node``: paragraphs joined by newlines, tracked deletions skipped."""
    out: list[str] = []
    first_p = True
    for e in node.iter(_W_P, _W_T, _W_TAB, _W_BR, _W_CR):
        tag = e.tag
        if tag == _W_P:
            if not first_p:
                out.append("\n")
            first_p = False
        elif tag == _W_T:
            out.append(e.text or "")
        elif tag == _W_TAB:
            if e.getparent() is not None and e.getparent().tag.endswith("}tabs"):
                continue  # a tab stop definition in pPr
            out.append("\t")
        else:
            out.append("\n")
    return "".join(out)


def _clean(text: str) -> str | None:
    lines = [ln.strip() for ln in text.replace("\r", "").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    value = "\n".join(lines)
    if not value or value.lower() in PLACEHOLDERS:
        return None
    return value


def _norm_label(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).rstrip(":*").strip().casefold()


@dataclass(slots=True)
class _Located:
    how: Literal["tag", "alias", "label"]
    node: etree._Element  # the w:sdt, or the w:tc holding the value (label fallback)


class _Index:
    def __init__(self, document: etree._Element) -> None:
        self.by_tag: dict[str, etree._Element] = {}
        self.by_alias: dict[str, etree._Element] = {}
        for sdt in document.iter(_W_SDT):
            pr = sdt.find(_W_SDTPR)
            if pr is None:
                continue
            tag = pr.find(_W_TAG)
            if tag is not None and tag.get(_W_VAL):
                self.by_tag.setdefault(tag.get(_W_VAL), sdt)
            alias = pr.find(_W_ALIAS)
            if alias is not None and alias.get(_W_VAL):
                self.by_alias.setdefault(_norm_label(alias.get(_W_VAL)), sdt)
        self._document = document
        self._labels: dict[str, list[etree._Element]] | None = None

    def labels(self) -> dict[str, list[etree._Element]]:
        if self._labels is None:  # built only when a tag and alias are both lost
            self._labels = {}
            for tc in self._document.iter(_W_TC):
                if next(tc.iter(_W_SDT), None) is not None:
                    continue
                p = tc.find(_W_P)
                if p is None:
                    continue
                key = _norm_label(node_text(p))
                if key:
                    self._labels.setdefault(key, []).append(tc)
        return self._labels

    def find(self, tag: str, alias: str, label: str | None, offset: int = 1) -> _Located | None:
        if tag in self.by_tag:
            return _Located("tag", self.by_tag[tag])
        key = _norm_label(alias)
        if key in self.by_alias:
            return _Located("alias", self.by_alias[key])
        if label is None:
            return None
        for tc in self.labels().get(_norm_label(label), ()):
            cell = tc  # a section title can share its text with a label: try each cell
            for _ in range(offset):
                cell = cell.getnext()
                while cell is not None and cell.tag != _W_TC:
                    cell = cell.getnext()
                if cell is None:
                    break
            if cell is not None:
                return _Located("label", cell)
        return None


def _content_text(loc: _Located, whole_cell: bool = False) -> str:
    if loc.how == "label":
        return node_text(loc.node)
    if whole_cell:
        # LibreOffice (7.x) keeps only inline controls: a multi-paragraph answer comes back
        # as a control in the first paragraph and plain paragraphs after it in the cell.
        p = loc.node.getparent()
        tc = p.getparent() if p is not None and p.tag == _W_P else None
        if tc is not None and tc.tag == _W_TC and sum(1 for _ in tc.iter(_W_SDT)) == 1:
            return node_text(tc)
    content = loc.node.find(_W_SDTCONTENT)
    return node_text(content) if content is not None else ""


# --------------------------------------------------------------------------- values


class _Invalid(ValueError):
    pass


_NUMBER = re.compile(r"^£?\s*(\d+(?:\.\d+)?)\s*(?:%|[a-z].*)?$", re.IGNORECASE | re.DOTALL)
_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d", "%d.%m.%Y", "%d-%m-%Y", "%d %B %Y", "%d %b %Y", "%A %d %B %Y")


def _parse_number(text: str) -> Decimal:
    m = _NUMBER.match(text.replace(",", "").strip())
    if not m:
        raise _Invalid(text)
    try:
        return Decimal(m.group(1))
    except InvalidOperation:
        raise _Invalid(text) from None


def _parse_date_text(text: str) -> date:
    t = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", " ".join(text.split()))
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(t, fmt).date()
        except ValueError:
            continue
    raise _Invalid(text)


def _parse_sen(text: str) -> str:
    t = text.casefold().strip()
    for key, label in SEN_STATUS_LABELS.items():
        if t in (key, label.casefold()):
            return key
    if "plan" in t or "ehcp" in t:
        return "ehcp"
    if "assessment" in t:
        return "ehc-assessment"
    if "support" in t:
        return "sen-support"
    if t in ("none", "no", "no sen", "n/a"):
        return "none"
    raise _Invalid(text)


def _parse_choice(f: FieldSpec, text: str) -> str:
    t = " ".join(text.split()).casefold()
    for value, label in f.choices:
        if t in (value.casefold(), label.casefold()):
            return value
    raise _Invalid(text)


def _checkbox_state(sdt: etree._Element) -> bool | None:
    """Ticked or not; ``None`` when the control does not say (e.g. a re-save merged controls)."""
    pr = sdt.find(_W_SDTPR)
    box = pr.find(f"{{{W14}}}checkbox") if pr is not None else None
    if box is not None:
        state = box.find(f"{{{W14}}}checked")
        if state is not None:
            return (state.get(f"{{{W14}}}val") or "0").lower() in ("1", "true", "on")
    content = sdt.find(_W_SDTCONTENT)
    text = node_text(content).strip() if content is not None else ""
    if len(text) == 1 and text in YES_GLYPHS | NO_GLYPHS:
        return text in YES_GLYPHS
    return None


def _bool_from_text(text: str) -> bool | None:
    t = " ".join(text.split())
    yes = re.search(r"(\S)\s*Yes", t)
    no = re.search(r"(\S)\s*No\b", t)
    yes_ticked = bool(yes and yes.group(1) in YES_GLYPHS)
    no_ticked = bool(no and no.group(1) in YES_GLYPHS)
    if yes or no:
        if yes_ticked and no_ticked:
            raise _Invalid(t)
        if yes_ticked:
            return True
        if no_ticked:
            return False
        if all(g.group(1) in NO_GLYPHS for g in (yes, no) if g):
            return None
    low = t.casefold()
    if low in ("", "yes and no"):
        return None
    if low in ("yes", "y"):
        return True
    if low in ("no", "n"):
        return False
    raise _Invalid(t)


class _Reader:
    def __init__(self, index: _Index) -> None:
        self.index = index
        self.missing: list[str] = []
        self.invalid: dict[str, str] = {}
        self.found_by: dict[str, Literal["tag", "alias", "label"]] = {}

    def read(self, f: FieldSpec) -> Any:
        if f.kind == "bool":
            return self._read_bool(f)
        loc = self.index.find(f.tag, f.alias, f.label, f.offset)
        if loc is None:
            self.missing.append(f.tag)
            return None
        self.found_by[f.tag] = loc.how
        text = _clean(_content_text(loc, whole_cell=f.kind == "text"))
        try:
            if f.kind == "date":
                full = None
                if loc.how != "label":
                    pr = loc.node.find(_W_SDTPR)
                    d = pr.find(f"{{{W}}}date") if pr is not None else None
                    full = d.get(f"{{{W}}}fullDate") if d is not None else None
                if text is None:
                    return None
                if full:
                    try:
                        return date.fromisoformat(full[:10])
                    except ValueError:
                        pass
                return _parse_date_text(text)
            if text is None:
                return None
            if f.kind in ("text", "line"):
                return text
            if f.kind == "int":
                n = _parse_number(text)
                if n != n.to_integral_value():
                    raise _Invalid(text)
                return int(n)
            if f.kind in ("decimal", "money"):
                return _parse_number(text)
            if f.kind == "sen":
                return _parse_sen(text)
            if f.kind == "choice":
                return _parse_choice(f, text)
        except _Invalid:
            self.invalid[f.tag] = text or ""
            return None
        raise AssertionError(f.kind)

    def _read_bool(self, f: FieldSpec) -> bool | None:
        yes = self.index.find(f"{f.tag}.yes", f"{f.alias}: Yes", None)
        no = self.index.find(f"{f.tag}.no", f"{f.alias}: No", None)
        y = _checkbox_state(yes.node) if yes is not None else None
        n = _checkbox_state(no.node) if no is not None else None
        if y is None or n is None:
            # a control is lost or no longer says which box it is: read the cell's text
            loc = self.index.find(f.tag, f.alias, f.label, f.offset)
            if loc is not None:
                self.found_by[f.tag] = loc.how
                text = _content_text(loc) if loc.how == "label" else node_text(loc.node)
                try:
                    return _bool_from_text(text)
                except _Invalid:
                    self.invalid[f.tag] = " ".join(text.split())
                    return None
            if yes is None and no is None:
                self.missing.append(f.tag)
                return None
        self.found_by[f.tag] = (yes or no).how  # type: ignore[union-attr]
        if y and n:
            self.invalid[f.tag] = "both Yes and No ticked"
            return None
        if y:
            return True
        if n:
            return False
        if y is None or n is None:
            self.missing.append(f"{f.tag}.{'yes' if y is None else 'no'}")
        return None


def _rows(values: dict[str, Any], grid: Grid, invalid: dict[str, str], part: str) -> tuple[list[dict[str, Any]], list[int]]:
    """Collect the non-empty rows of a grid (targets, attendees, actions) and their numbers;
    a numbered grid's rows keep their number as their id."""
    rows, numbers = [], []
    for i in range(1, grid.count + 1):
        row = {c: values.pop(f"{grid.prefix}.{i}.{c}", None) for c in grid.columns}
        if all(v is None for v in row.values()):
            continue
        if row[grid.required] is None:
            invalid[f"{part}.{grid.prefix}.{i}.{grid.required}"] = f"other columns given without a {grid.required}"
            continue
        if grid.numbered:
            row["number"] = i
        rows.append(row)
        numbers.append(i)
    return rows, numbers


def _read_part(reader: _Reader, sections: tuple, model: type[BaseModel], part: str) -> Any:
    raw = {f.name: reader.read(f) for f in all_fields(sections)}
    lists: dict[str, list[dict[str, Any]]] = {}
    numbers: dict[str, list[int]] = {}
    for grid in grids(sections):
        lists[grid.prefix], numbers[grid.prefix] = _rows(raw, grid, reader.invalid, part)
    if part == "meeting":
        dates = [raw.pop(f"next_meeting_dates.{i}", None) for i in range(1, NEXT_MEETING_ROWS + 1)]
        lists["next_meeting_dates"] = [d for d in dates if d]  # type: ignore[misc]
    data = {k: v for k, v in raw.items() if v is not None}
    data.update(lists)
    return _validated(model, data, numbers, reader.invalid, part)


def _validated(model: type[BaseModel], data: dict[str, Any], row_numbers: dict[str, list[int]],
               invalid: dict[str, str], part: str) -> Any:
    """Validate, dropping (and reporting) each value the model refuses, one at a time."""
    while True:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = err["loc"]
            name = loc[0] if loc else None
            if name not in data:
                raise
            value = data[name]
            if isinstance(value, list) and len(loc) > 1 and isinstance(loc[1], int):
                idx = loc[1]
                numbers = row_numbers.get(name, [])
                n = numbers[idx] if idx < len(numbers) else idx + 1
                invalid[f"{part}.{name}.{n}"] = f"{err['msg']}"
                data[name] = value[:idx] + value[idx + 1 :]
                if numbers:
                    row_numbers[name] = numbers[:idx] + numbers[idx + 1 :]
            else:
                invalid[f"{part}.{name}"] = f"{value}: {err['msg']}"
                del data[name]


# --------------------------------------------------------------------------- identity


def _core_value(core: etree._Element | None, ns: str, name: str) -> str | None:
    if core is None:
        return None
    node = core.find(f"{{{ns}}}{name}")
    return (node.text or "").strip() or None if node is not None else None


def _read_identity(index: _Index, core: etree._Element | None, expected: str, secret: bytes) -> tuple[PepIdentity, Variant, str]:
    def control(tag: str, alias: str) -> str | None:
        loc = index.find(tag, alias, alias)
        return _clean(_content_text(loc)) if loc is not None else None

    reference = control("pep.reference", "PEP reference") or _core_value(core, DC_NS, "identifier")
    if not reference:
        raise NotAPepForm("This Word file has no PEP reference: it is not a PEP form issued by the Virtual School.")
    reference = reference.strip()
    if reference != expected:
        raise WrongPep(
            f"This file is the form for PEP {reference}, not for PEP {expected}.",
            expected_reference=expected,
            found_reference=reference,
        )
    check = control("pep.check", "Check value")
    if check is None:
        keywords = _core_value(core, CP_NS, "keywords") or ""
        m = re.search(r"check=([0-9a-fA-F]+)", keywords)
        check = m.group(1) if m else None
    if check is None or not check_value_matches(reference, check, secret):
        raise WrongPep(
            f"The check value in this file does not match PEP {reference}: "
            "it was altered or was not issued for this PEP.",
            expected_reference=expected,
            found_reference=reference,
        )
    variant = control("pep.variant", "Form type") or _core_value(core, CP_NS, "category")
    if variant not in VARIANTS:
        raise NotAPepForm(f"The form type in this file ({variant!r}) is not one we issue.")
    layout = control("pep.layout", "Form layout") or ""
    try:
        identity = PepIdentity(
            pep_reference=reference,
            child_id=control("pep.child_id", "Child ID") or "",
            term=control("pep.term", "Term") or "",
            academic_year=control("pep.academic_year", "Academic year") or "",
        )
    except ValidationError:
        raise NotAPepForm(f"The PEP details in the file for PEP {reference} are damaged.") from None
    return identity, variant, layout  # type: ignore[return-value]


# --------------------------------------------------------------------------- entry point


def read_school_return(
    docx_bytes: bytes,
    expected_reference: str,
    secret: bytes,
    *,
    limits: ReadLimits = DEFAULT_LIMITS,
    password: str | None = None,
) -> ReadBackResult:
    """Check a returned form and read the designated teacher's part and the meeting part.

    A designated teacher may save the returned form with the password it came with:
    given ``password``, a protected file is opened with it first (:class:`WrongPassword`
    if it does not open it) and then checked like any other. Without ``password`` a
    protected file is refused with :class:`Encrypted`. An unprotected file is read the
    same with or without a password.
    """
    if password is not None and isinstance(docx_bytes, (bytes, bytearray, memoryview)) \
            and looks_like_protected_docx(bytes(docx_bytes)):
        from pepflow.documents.protection import unprotect  # protection imports this module

        docx_bytes = unprotect(docx_bytes, password, limits=limits)
    document, core = open_word_document(docx_bytes, limits)
    index = _Index(document)
    identity, variant, layout = _read_identity(index, core, expected_reference, secret)
    shape = FormShape.from_layout(variant, layout)

    reader = _Reader(index)
    values = _read_part(reader, school_sections(shape), SchoolReturn, "school")
    meeting = _read_part(reader, meeting_sections(shape), MeetingRecord, "meeting")

    def short(name: str) -> str:
        return name.split(".", 1)[1] if name.startswith("school.") else name

    return ReadBackResult(
        identity=identity,
        variant=variant,
        values=values,
        meeting=meeting,
        missing_fields=[short(m) for m in reader.missing],
        invalid_fields={short(k): v for k, v in reader.invalid.items()},
        found_by={short(k): v for k, v in reader.found_by.items()},
    )
