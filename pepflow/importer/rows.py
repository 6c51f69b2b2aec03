"""What every import kind shares: the summary and its row errors, the cell types, the
row model's base, and reading a CSV file into validated rows."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from pepflow.domain.dates import parse_day
from pepflow.domain.email import normalise_email
from pepflow.store import RecordsError, UnknownRecord

Kind = Literal["children", "settings", "staff", "contacts", "term-dates", "allocations"]

KINDS: tuple[str, ...] = ("staff", "settings", "term-dates", "children", "contacts", "allocations")

class RowError(BaseModel):
    """One problem in one row (``line`` 1 is the header)."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int
    column: str | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.problem}"

class ImportSummary(BaseModel):
    """What an import did. ``errors`` non-empty means nothing was imported."""

    kind: str
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = Field(default_factory=list)
    warnings: list[RowError] = Field(default_factory=list)
    #: children whose allocations changed (their open tasks follow: pepflow.access)
    changed_children: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        if self.errors:
            lines = [f"{self.file}: {len(self.errors)} problem(s), nothing imported"]
            return "\n".join([*lines, *(f"  {e}" for e in self.errors)])
        done = (
            f"{self.file}: {self.rows} {self.kind} row(s): {self.created} created, "
            f"{self.updated} updated, {self.unchanged} unchanged"
        )
        return "\n".join([done, *(f"  note: {w}" for w in self.warnings)])

class ImportFailed(RecordsError):
    """Raised by :meth:`ImportSummary`-checking callers that want an exception."""

    def __init__(self, summary: ImportSummary) -> None:
        self.summary = summary
        super().__init__(str(summary))

def _email(value: str | None) -> str | None:
    return normalise_email(value) if value is not None else None

EmailCell = Annotated[str | None, AfterValidator(_email)]

def _day(value: Any) -> Any:
    """A date as England writes it: ISO or day first (what Excel exports); see
    :mod:`pepflow.domain.dates`."""
    return parse_day(value) if isinstance(value, str) else value

DateCell = Annotated[date, BeforeValidator(_day)]

Identifier = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^\S+$")]

class Row(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: (None if isinstance(v, str) and not v.strip() else v) for k, v in data.items()
            }
        return data

class Collector:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        self.changed_children: set[str] = set()
        self.line = 0  # the row being applied (for notes made while applying)

    def add(self, line: int, column: str | None, problem: str) -> None:
        self.errors.append(RowError(file=self.file, line=line, column=column, problem=problem))

    def warn(self, line: int | None, column: str | None, note: str) -> None:
        if any(w.problem == note and w.column == column for w in self.warnings):
            return  # said once is enough
        self.warnings.append(
            RowError(file=self.file, line=self.line if line is None else line, column=column, problem=note)
        )

def _problem(error: dict[str, Any]) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error["type"] == "missing":
        return "a value is required"
    if error.get("input") is not None and error["type"] not in ("value_error",):
        return f"{message} (got {error['input']!r})"
    return message

def read_rows(path: Path, model: type[Row], errors: Collector) -> list[tuple[int, Row]]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        errors.add(0, None, f"cannot read the file: {exc.strerror or exc}")
        return []
    rows: list[tuple[int, Row]] = []
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames
        except (csv.Error, UnicodeDecodeError) as exc:
            errors.add(1, None, f"not a readable CSV file: {exc}")
            return []
        if not header:
            errors.add(1, None, "the file is empty: a header row is required")
            return []
        columns = [c.strip() for c in header]
        reader.fieldnames = columns
        known = set(model.model_fields)
        for column in columns:
            if column not in known:
                errors.add(
                    1, column, f"unknown column; expected some of: {', '.join(model.model_fields)}"
                )
        for name, field in model.model_fields.items():
            if field.is_required() and name not in columns:
                errors.add(1, name, "required column is missing")
        if errors.errors:
            return []
        previous_line = reader.line_num
        try:
            for raw in reader:
                line = previous_line + 1
                previous_line = reader.line_num
                if None in raw:
                    errors.add(line, None, f"more cells than columns ({len(columns)})")
                    continue
                if all(v is None or not v.strip() for v in raw.values()):
                    continue  # blank line
                try:
                    rows.append((line, model.model_validate(raw)))
                except ValidationError as exc:
                    for error in exc.errors():
                        column = str(error["loc"][0]) if error["loc"] else None
                        errors.add(line, column, _problem(error))
        except (csv.Error, UnicodeDecodeError) as exc:
            errors.add(previous_line + 1, None, f"not a readable CSV row: {exc}")
    return rows

def exists(lookup: Callable[[str], Any], record_id: str) -> bool:
    try:
        lookup(record_id)
    except UnknownRecord:
        return False
    return True

def unique_ids(rows: list[tuple[int, Any]], errors: Collector, column: str = "id") -> None:
    seen: dict[str, int] = {}
    for line, row in rows:
        value = getattr(row, column)
        if value in seen:
            errors.add(line, column, f"{value!r} is already used on line {seen[value]}")
        else:
            seen[value] = line

def outcome(before: Any, after: Any) -> str:
    if before is None:
        return "created"
    return "unchanged" if before == after else "updated"

def existing(lookup: Callable[[str], Any], record_id: str) -> Any:
    try:
        return lookup(record_id)
    except UnknownRecord:
        return None
