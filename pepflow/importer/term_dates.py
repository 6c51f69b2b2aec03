"""The ``term-dates`` import: the council's and each setting's terms, half terms and
inset days."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Literal

from pydantic import Field

from pepflow.calendar import AcademicYearTerms, Term, academic_year_of
from pepflow.domain.enums import TermName
from pepflow.store import RecordsStore

from .rows import Collector, DateCell, Identifier, Row, exists


class TermDatesRowIn(Row):
    setting_id: Identifier | None = None
    academic_year: int = Field(ge=2000, le=2999)
    term: Literal["autumn", "spring", "summer", "inset-day"]
    starts_on: DateCell
    ends_on: DateCell | None = None
    half_term_starts_on: DateCell | None = None
    half_term_ends_on: DateCell | None = None


def check_term_dates(
    store: RecordsStore, rows: list[tuple[int, TermDatesRowIn]], errors: Collector
) -> None:
    known_settings: dict[str, bool] = {}
    seen: dict[tuple[str | None, int, str, date | None], int] = {}
    years: dict[tuple[str | None, int], dict[str, tuple[int, Term]]] = defaultdict(dict)
    for line, row in rows:
        if row.setting_id:
            if row.setting_id not in known_settings:
                known_settings[row.setting_id] = exists(store.setting, row.setting_id)
            if not known_settings[row.setting_id]:
                errors.add(
                    line,
                    "setting_id",
                    f"no education setting {row.setting_id!r}: import settings first",
                )
        if row.term == "inset-day":
            key = (row.setting_id, row.academic_year, row.term, row.starts_on)
            if academic_year_of(row.starts_on) != row.academic_year:
                errors.add(
                    line,
                    "starts_on",
                    f"{row.starts_on} is not in the academic year {row.academic_year}",
                )
            for column in ("ends_on", "half_term_starts_on", "half_term_ends_on"):
                if getattr(row, column) is not None:
                    errors.add(line, column, "an inset-day row has only starts_on (the day)")
        else:
            key = (row.setting_id, row.academic_year, row.term, None)
            if row.ends_on is None:
                errors.add(line, "ends_on", "a value is required")
                continue
            try:
                term = Term(
                    row.term,
                    row.starts_on,
                    row.ends_on,
                    row.half_term_starts_on,
                    row.half_term_ends_on,
                )
            except ValueError as exc:
                column = "half_term_starts_on" if "half term" in str(exc) else "ends_on"
                errors.add(line, column, str(exc))
                continue
            years[(row.setting_id, row.academic_year)][row.term] = (line, term)
        if key in seen:
            errors.add(line, "term", f"repeats line {seen[key]}")
        else:
            seen[key] = line
    for (_setting_id, year), terms in years.items():
        if len(terms) != 3:
            continue  # a partial year may complete terms already in the store
        ordered = tuple(terms[name][1] for name in TermName)
        try:
            AcademicYearTerms(year, ordered)
        except ValueError as exc:
            errors.add(max(line for line, _ in terms.values()), "starts_on", str(exc))


def apply_term_dates(store: RecordsStore, row: TermDatesRowIn, actor: str, notes: Collector) -> str:
    if row.term == "inset-day":
        return store.save_inset_day(row.starts_on, setting_id=row.setting_id, actor=actor)
    return store.save_term(
        row.academic_year,
        row.term,
        row.starts_on,
        row.ends_on,
        row.half_term_starts_on,
        row.half_term_ends_on,
        setting_id=row.setting_id,
        actor=actor,
    )
