"""The building blocks of the PEP content model: fields, rows, sections, grids.

Each field the school (or Health Visitor and carers, or education provider) fills, and
each field of the meeting part, has a stable content-control tag
(``school.attendance_percent``), an alias (its human title, which LibreOffice keeps
when it drops tags) and a visible label in the table cell before it (the last resort
when both are lost). Labels are unique within a form.

A section has a stable ``key`` (``attendance``, ``targets``...): the tests, the final
PEP, the web page and ``docs/pep-content.md`` name sections by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "line", "int", "decimal", "money", "date", "bool", "sen", "choice"]

TARGET_ROWS = 5
ATTENDEE_ROWS = 8
ACTION_ROWS = 6
NEXT_MEETING_ROWS = 3

YES_GLYPHS = frozenset("☒☑✓✔✗✘xX■")
NO_GLYPHS = frozenset("☐□")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    part: Literal["school", "meeting"]
    name: str  # dotted path: "attendance_percent", "targets.2.who"
    label: str  # text of the label cell, also the alias (with ``alias_suffix``)
    kind: Kind
    offset: int = 1  # value cell = label cell + offset (label fallback)
    alias_suffix: str = ""  # "who", "by when" for the 2nd/3rd cell of a row
    choices: tuple[tuple[str, str], ...] = ()  # (stored value, words shown) for kind "choice"

    @property
    def tag(self) -> str:
        return f"{self.part}.{self.name}"

    @property
    def alias(self) -> str:
        return f"{self.label} – {self.alias_suffix}" if self.alias_suffix else self.label

    @property
    def placeholder(self) -> str:
        if self.kind == "date":
            return "Enter a date."
        if self.kind in ("sen", "choice"):
            return "Choose an item."
        if self.kind == "text":
            return "Click or tap here to enter text."
        return "Enter text."

    def choice_label(self, value: object) -> str:
        return dict(self.choices).get(str(value), str(value))


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a section table: a label and one field (or several, for grids)."""

    fields: tuple[FieldSpec, ...]
    hint: str | None = None

    @property
    def label(self) -> str:
        return self.fields[0].label


@dataclass(frozen=True, slots=True)
class Grid:
    """A section whose rows are numbered records (targets, subjects, attendees...).

    ``prefix`` is the list field of the model (``targets``), ``columns`` its item's
    fields in column order, ``required`` the one a row cannot be without; ``numbered``
    rows keep their row number (``number``) as a stable id."""

    prefix: str
    count: int
    columns: tuple[str, ...]
    required: str
    numbered: bool = False


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    rows: tuple[Row, ...]
    columns: tuple[str, ...] = ()  # header row for grids (targets, attendees, actions)
    note: str | None = None
    key: str = ""
    grid: Grid | None = None
    description: str | None = None  # what the table holds, for people using a screen reader
    widths: tuple[int, ...] = ()  # a grid's column widths (twips), when the default does not suit

    @property
    def alt_text(self) -> str:
        if self.description:
            return self.description
        if self.grid is not None:
            return f"{self.title}: one row per item, with columns {', '.join(c for c in self.columns if c)}."
        return f"{self.title}: each row is a question followed by its answer."


def field(name: str, label: str, kind: Kind, hint: str | None = None, part: str = "school",
          choices: tuple[tuple[str, str], ...] = ()) -> Row:
    return Row((FieldSpec(part, name, label, kind, choices=choices),), hint)  # type: ignore[arg-type]


def grid_section(key: str, title: str, part: str, prefix: str, row_label: str, count: int,
                 cols: tuple[tuple[str, str, Kind, str], ...], *, numbered: bool = False,
                 note: str | None = None, choices: dict[str, tuple[tuple[str, str], ...]] | None = None,
                 widths: tuple[int, ...] = ()) -> Section:
    """A grid: ``cols`` are (field, column heading, kind, alias suffix); the first column
    is the required one and its alias has no suffix."""
    rows = tuple(
        Row(tuple(
            FieldSpec(part, f"{prefix}.{i}.{name}", f"{row_label} {i}", kind, offset, suffix,  # type: ignore[arg-type]
                      (choices or {}).get(name, ()))
            for offset, (name, _heading, kind, suffix) in enumerate(cols, start=1)
        ))
        for i in range(1, count + 1)
    )
    return Section(
        title, rows, columns=("",) + tuple(c[1] for c in cols), note=note, key=key,
        grid=Grid(prefix, count, tuple(c[0] for c in cols), cols[0][0], numbered), widths=widths,
    )


def all_fields(sections: tuple[Section, ...]) -> list[FieldSpec]:
    return [f for s in sections for r in s.rows for f in r.fields]


def grids(sections: tuple[Section, ...]) -> list[Grid]:
    return [s.grid for s in sections if s.grid is not None]
