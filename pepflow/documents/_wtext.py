"""The text of WordprocessingML as a person sees it, and finding a field's answer in it.

Tracked changes are read as if accepted: insertions are typing, deletions are gone, and a
tracked move is read once, where it was moved to (``w:moveTo``; the ``w:moveFrom`` copy
is skipped). Of ``mc:AlternateContent`` (a text box in a drawing) only the first choice is
read: the fallback repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lxml import etree

from pepflow.documents._docxpkg import W

MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_W_P, _W_T, _W_TAB, _W_BR, _W_CR = (f"{{{W}}}{n}" for n in ("p", "t", "tab", "br", "cr"))
_W_SDT, _W_SDTPR, _W_SDTCONTENT = f"{{{W}}}sdt", f"{{{W}}}sdtPr", f"{{{W}}}sdtContent"
_W_TAG, _W_ALIAS, _W_VAL = f"{{{W}}}tag", f"{{{W}}}alias", f"{{{W}}}val"
_W_TC, _W_TR = f"{{{W}}}tc", f"{{{W}}}tr"
_W_MOVE_FROM = f"{{{W}}}moveFrom"
_MC_FALLBACK = f"{{{MC}}}Fallback"

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


def skipped(node: etree._Element) -> set[etree._Element]:
    """Subtrees under ``node`` that are not text a person sees (moved-away copies, fallbacks)."""
    return set(node.iter(_W_MOVE_FROM, _MC_FALLBACK))


def is_skipped(e: etree._Element, skip: set[etree._Element]) -> bool:
    return bool(skip) and any(a in skip for a in e.iterancestors())


def node_text(node: etree._Element, skip: set[etree._Element] | None = None) -> str:
    """Visible text under ``node``: paragraphs joined by newlines, tracked changes accepted."""
    if skip is None:
        skip = skipped(node)
    out: list[str] = []
    first_p = True
    for e in node.iter(_W_P, _W_T, _W_TAB, _W_BR, _W_CR):
        if skip and (e in skip or is_skipped(e, skip)):
            continue
        tag = e.tag
        if tag == _W_P:
            if not first_p:
                out.append("\n")
            first_p = False
        elif tag == _W_T:
            prev = e.getprevious()
            if prev is not None and prev.tag == _W_T:
                out.append("\n")  # LibreOffice 7.4 writes a line of a multi-line answer as its own w:t
            out.append(e.text or "")
        elif tag == _W_TAB:
            if e.getparent() is not None and e.getparent().tag.endswith("}tabs"):
                continue  # a tab stop definition in pPr
            out.append("\t")
        else:
            out.append("\n")
    return "".join(out)


def clean(text: str) -> str | None:
    """An answer as typed, without surrounding blank lines and spaces; ``None`` if empty or a placeholder."""
    lines = [ln.strip() for ln in text.replace("\r", "").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    value = "\n".join(lines)
    if not value or value.lower() in PLACEHOLDERS:
        return None
    return value


def norm_label(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).rstrip(":*").strip().casefold()


def sdt_names(sdt: etree._Element) -> tuple[str | None, str | None]:
    """A content control's tag and alias (either may be gone: LibreOffice drops tags)."""
    pr = sdt.find(_W_SDTPR)
    if pr is None:
        return None, None
    tag, alias = pr.find(_W_TAG), pr.find(_W_ALIAS)
    return (tag.get(_W_VAL) if tag is not None else None), (alias.get(_W_VAL) if alias is not None else None)


@dataclass(slots=True)
class Located:
    how: Literal["tag", "alias", "label"]
    node: etree._Element  # the w:sdt, or the w:tc holding the value (label fallback)


class Index:
    def __init__(self, document: etree._Element) -> None:
        self.by_tag: dict[str, etree._Element] = {}
        self.by_alias: dict[str, etree._Element] = {}
        for sdt in document.iter(_W_SDT):
            tag, alias = sdt_names(sdt)
            if tag:
                self.by_tag.setdefault(tag, sdt)
            if alias:
                self.by_alias.setdefault(norm_label(alias), sdt)
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
                key = norm_label(node_text(p))
                if key:
                    self._labels.setdefault(key, []).append(tc)
        return self._labels

    def find(self, tag: str, alias: str, label: str | None, offset: int = 1) -> Located | None:
        if tag in self.by_tag:
            return Located("tag", self.by_tag[tag])
        key = norm_label(alias)
        if key in self.by_alias:
            return Located("alias", self.by_alias[key])
        if label is None:
            return None
        for tc in self.labels().get(norm_label(label), ()):
            cell = tc  # a section title can share its text with a label: try each cell
            for _ in range(offset):
                cell = cell.getnext()
                while cell is not None and cell.tag != _W_TC:
                    cell = cell.getnext()
                if cell is None:
                    break
            if cell is not None:
                return Located("label", cell)
        return None


def enclosing_cell(node: etree._Element) -> etree._Element | None:
    for a in node.iterancestors(_W_TC):
        return a
    return None


def answer_text(loc: Located, whole_cell: bool = False) -> tuple[str, etree._Element]:
    """The text of an answer, and the element it was read from (marked read for completeness).

    A free-text answer is the whole cell its control is in: Enter pressed in an answer
    (Word: a new paragraph in the control; LibreOffice: a paragraph after it, or a
    second control) stays in that cell, and the cell is the box the school sees.
    """
    if loc.how == "label":
        return node_text(loc.node), loc.node
    if whole_cell:
        tc = enclosing_cell(loc.node)
        if tc is not None and _only_this_field(tc, loc.node):
            return node_text(tc), tc
    content = loc.node.find(_W_SDTCONTENT)
    return (node_text(content) if content is not None else ""), loc.node


def _only_this_field(tc: etree._Element, sdt: etree._Element) -> bool:
    """No other field's control shares the cell (a copy of this one, LibreOffice's split, may)."""
    names = sdt_names(sdt)
    for other in tc.iter(_W_SDT):
        if other is sdt or other in sdt.iterancestors() or sdt in other.iterancestors():
            continue
        tag, alias = sdt_names(other)
        if (tag or alias) and (tag, alias) != names and not (tag is None and alias == names[1]):
            if not (alias is None and tag is None):
                return False
    return True
