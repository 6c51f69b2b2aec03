"""Read the designated teacher's part back out of a returned PEP form, completely.

The file is opened and checked by :mod:`pepflow.documents._docxpkg` (hostile input is
refused before anything is parsed). Each field is found by its content-control tag,
then its alias (LibreOffice drops ``w:tag`` when it re-saves a file but keeps
``w:alias``), then its visible label (:mod:`pepflow.documents._wtext`), and understood
exactly or not at all (:mod:`pepflow.documents._values`).

Nothing a school writes is lost (issue 12): every piece of text is either read into a
field or reported in :attr:`ReadBackResult.findings` with where it was and the text
verbatim: answers that do not parse, are ambiguous or are longer than the form allows
(kept in full), text outside the answers, comments, pictures and unresolved tracked
changes (:mod:`pepflow.documents._completeness`), and a form returned blank. Empty
fields are "not provided" (``None``); fields whose control cannot be found at all are
listed in ``missing_fields``; ``invalid_fields`` is the findings about answers, by field,
for callers that only need that.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from lxml import etree
from pydantic import BaseModel, ConfigDict, ValidationError

from pepflow.documents._completeness import Completeness
from pepflow.documents._docxpkg import (  # noqa: F401 - the public names of reading a file
    CP_NS,
    DC_NS,
    DEFAULT_LIMITS,
    OLE_MAGIC,
    W,
    W14,
    DocumentRejected,
    Encrypted,
    MacroEnabled,
    NotAPepForm,
    NotAWordFile,
    ReadLimits,
    TooLarge,
    UnsafeXml,
    WrongPassword,
    WrongPep,
    looks_like_protected_docx,
    open_word_document,
    open_word_package,
    parse_xml,
)
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
from pepflow.documents._values import (
    Ambiguous,
    Unparsed,
    bool_from_text,
    parse_choice,
    parse_date_text,
    parse_number,
    parse_sen,
)
from pepflow.documents._wtext import Index, Located, answer_text, clean, enclosing_cell, node_text  # noqa: F401
from pepflow.documents.findings import ReadFinding
from pepflow.documents.model import (
    VARIANTS,
    MeetingRecord,
    PepIdentity,
    SchoolReturn,
    Variant,
    check_value_matches,
)

_W_SDTPR, _W_SDTCONTENT = f"{{{W}}}sdtPr", f"{{{W}}}sdtContent"


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


# --------------------------------------------------------------------------- fields


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


class _Reader:
    def __init__(self, index: Index, labels: dict[str, str]) -> None:
        self.index = index
        self.labels = labels  # tag -> the label a person sees ("Target 2 – who")
        self.missing: list[str] = []
        self.invalid: dict[str, str] = {}
        self.findings: list[ReadFinding] = []
        self.raw: dict[str, str] = {}  # tag -> the answer as typed
        self.read_nodes: set[etree._Element] = set()
        self.found_by: dict[str, Literal["tag", "alias", "label"]] = {}

    def flag(self, tag: str, kind: str, text: str, reason: str, invalid: str | None = None) -> None:
        self.invalid[tag] = text if invalid is None else invalid
        self.findings.append(ReadFinding(kind=kind, where=self.labels.get(tag, tag), text=text,  # type: ignore[arg-type]
                                         reason=reason, field=_short(tag)))

    def read(self, f: FieldSpec) -> Any:
        if f.kind == "bool":
            return self._read_bool(f)
        loc = self.index.find(f.tag, f.alias, f.label, f.offset)
        if loc is None:
            self.missing.append(f.tag)
            return None
        self.found_by[f.tag] = loc.how
        raw, node = answer_text(loc, whole_cell=f.kind in ("text", "line"))
        self.read_nodes.add(node)
        text = clean(raw)
        if text is not None:
            self.raw[f.tag] = text
        try:
            if f.kind == "date":
                full = None
                if loc.how != "label":
                    pr = loc.node.find(_W_SDTPR)
                    d = pr.find(f"{{{W}}}date") if pr is not None else None
                    full = d.get(f"{{{W}}}fullDate") if d is not None else None
                if text is None:
                    return None
                picked = None
                if full:
                    try:
                        picked = date.fromisoformat(full[:10])
                    except ValueError:
                        pass
                try:
                    shown = parse_date_text(text)
                except Unparsed:
                    if picked is None:
                        raise
                    raise Ambiguous(text, f"the date picked is {picked:%d/%m/%Y} but the box shows other "
                                          "words: check the date with the school") from None
                if picked is not None and shown != picked:
                    raise Ambiguous(text, f"the date picked is {picked:%d/%m/%Y} but the box shows "
                                          f"{shown:%d/%m/%Y}: check the date with the school")
                return shown
            if text is None:
                return None
            if f.kind in ("text", "line"):
                return text
            if f.kind == "int":
                return int(parse_number(text, "int"))
            if f.kind in ("decimal", "money"):
                return parse_number(text, f.kind)
            if f.kind == "sen":
                return parse_sen(text)
            if f.kind == "choice":
                return parse_choice(f.choices, text)
        except Unparsed as exc:
            self.flag(f.tag, "ambiguous" if isinstance(exc, Ambiguous) else "unparsed", text or "", exc.reason)
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
                if loc.how == "label":
                    text, node = answer_text(loc)
                else:
                    node = enclosing_cell(loc.node) or loc.node
                    text = node_text(node)
                self.read_nodes.add(node)
                try:
                    return bool_from_text(text)
                except Unparsed as exc:
                    self.flag(f.tag, "ambiguous" if isinstance(exc, Ambiguous) else "unparsed",
                              " ".join(text.split()), exc.reason)
                    return None
            if yes is None and no is None:
                self.missing.append(f.tag)
                return None
        self.read_nodes.update(x.node for x in (yes, no) if x is not None)
        self.found_by[f.tag] = (yes or no).how  # type: ignore[union-attr]
        if y and n:
            self.flag(f.tag, "ambiguous", "☒ Yes ☒ No", "both Yes and No ticked: ask which is right",
                      invalid="both Yes and No ticked")
            return None
        if y:
            return True
        if n:
            return False
        if y is None or n is None:
            self.missing.append(f"{f.tag}.{'yes' if y is None else 'no'}")
        return None


def _short(tag: str) -> str:
    return tag.split(".", 1)[1] if tag.startswith("school.") else tag


def _rows(values: dict[str, Any], grid: Grid, reader: _Reader, part: str) -> tuple[list[dict[str, Any]], list[int]]:
    """Collect the non-empty rows of a grid (targets, attendees, actions) and their numbers;
    a numbered grid's rows keep their number as their id."""
    rows, numbers = [], []
    for i in range(1, grid.count + 1):
        row = {c: values.pop(f"{grid.prefix}.{i}.{c}", None) for c in grid.columns}
        if all(v is None for v in row.values()):
            continue
        if row[grid.required] is None:
            given = "; ".join(f"{c}: {reader.raw.get(f'{part}.{grid.prefix}.{i}.{c}', row[c])}"
                              for c in grid.columns if row[c] is not None)
            reader.flag(f"{part}.{grid.prefix}.{i}.{grid.required}", "unparsed", given,
                        f"other columns given without a {grid.required}: not read as a row",
                        invalid=f"other columns given without a {grid.required}")
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
        lists[grid.prefix], numbers[grid.prefix] = _rows(raw, grid, reader, part)
    if part == "meeting":
        dates = [raw.pop(f"next_meeting_dates.{i}", None) for i in range(1, NEXT_MEETING_ROWS + 1)]
        lists["next_meeting_dates"] = [d for d in dates if d]  # type: ignore[misc]
    data = {k: v for k, v in raw.items() if v is not None}
    data.update(lists)
    return _validated(model, data, numbers, reader, part)


def _validated(model: type[BaseModel], data: dict[str, Any], row_numbers: dict[str, list[int]],
               reader: _Reader, part: str) -> Any:
    """Validate, taking out (and flagging, with the text as typed) each value the model refuses."""
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
                column = loc[2] if len(loc) > 2 else None
                tag = f"{part}.{name}.{n}" + (f".{column}" if column else "")
                typed = reader.raw.get(tag, str(value[idx]))
                _flag_refused(reader, tag, typed, err, invalid_key=f"{part}.{name}.{n}")
                data[name] = value[:idx] + value[idx + 1 :]
                if numbers:
                    row_numbers[name] = numbers[:idx] + numbers[idx + 1 :]
            else:
                tag = f"{part}.{name}"
                typed = reader.raw.get(tag, str(value))
                _flag_refused(reader, tag, typed, err, invalid_key=tag)
                del data[name]


def _flag_refused(reader: _Reader, tag: str, typed: str, err: dict, invalid_key: str) -> None:
    limit = (err.get("ctx") or {}).get("max_length")
    if err["type"] == "string_too_long" and limit:
        reader.flag(tag, "over-length", typed,
                    f"{len(typed)} characters, more than the {limit} the form allows: kept here in full, "
                    "not stored in the field", invalid=f"{len(typed)} characters: {err['msg']}")
    else:
        reader.flag(tag, "unparsed", typed, f"not accepted: {err['msg']}", invalid=f"{typed}: {err['msg']}")
    if invalid_key != tag:
        reader.invalid[invalid_key] = reader.invalid.pop(tag)


# --------------------------------------------------------------------------- identity


def _core_value(core: etree._Element | None, ns: str, name: str) -> str | None:
    if core is None:
        return None
    node = core.find(f"{{{ns}}}{name}")
    return (node.text or "").strip() or None if node is not None else None


def _read_identity(index: Index, core: etree._Element | None, expected: str, secret: bytes) -> tuple[PepIdentity, Variant, str]:
    def control(tag: str, alias: str) -> str | None:
        loc = index.find(tag, alias, alias)
        return clean(answer_text(loc)[0]) if loc is not None else None

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
        from pepflow.documents.protection import unprotect  # protection imports _docxpkg, not this

        docx_bytes = unprotect(docx_bytes, password, limits=limits)
    opened = open_word_package(docx_bytes, limits)
    document, core = opened.document, opened.core
    index = Index(document)
    identity, variant, layout = _read_identity(index, core, expected_reference, secret)
    shape = FormShape.from_layout(variant, layout)

    school, meeting_part = school_sections(shape), meeting_sections(shape)
    reader = _Reader(index, {f.tag: f.alias for f in all_fields(school) + all_fields(meeting_part)})
    values = _read_part(reader, school, SchoolReturn, "school")
    meeting = _read_part(reader, meeting_part, MeetingRecord, "meeting")

    findings = reader.findings + Completeness(opened, reader.read_nodes, shape).run()
    if not reader.raw and not findings and values == SchoolReturn() and meeting == MeetingRecord():
        findings.append(ReadFinding(
            kind="blank", where="the whole form", text="",
            reason="the form came back with no answers at all: it may be the wrong file, or saved before it "
                   "was filled in; ask the school before taking it in"))
    return ReadBackResult(
        identity=identity,
        variant=variant,
        values=values,
        meeting=meeting,
        missing_fields=[_short(m) for m in reader.missing],
        invalid_fields={_short(k): v for k, v in reader.invalid.items()},
        found_by={_short(k): v for k, v in reader.found_by.items()},
        findings=findings,
    )
