"""Pupil Premium Plus: the Virtual School's ledger for a financial year, and its CSV.

The ledger counts a request in the financial year (1 April - 31 March) of the day it
was approved; refused requests are listed with their reason and count nothing. Sums are
Decimal pounds and pence (never float): per child, per school and in total.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from .domain.quality import PppStatus, financial_year_label
from .store import RecordsStore
from .store.ppp import PppRecords, PppRequest

LONDON = ZoneInfo("Europe/London")
ZERO = Decimal("0.00")
NO_SCHOOL = "(no school)"


@dataclass
class LedgerLine:
    """Approved money for one child or one school in the year."""

    key: str
    name: str
    approved: Decimal = ZERO
    approved_count: int = 0
    refused_count: int = 0
    impact_missing: int = 0


@dataclass
class Ledger:
    financial_year: int
    approved: list[PppRequest] = field(default_factory=list)
    refused: list[PppRequest] = field(default_factory=list)
    waiting: list[PppRequest] = field(default_factory=list)
    by_child: dict[str, LedgerLine] = field(default_factory=dict)
    by_school: dict[str, LedgerLine] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return financial_year_label(self.financial_year)

    @property
    def total(self) -> Decimal:
        return sum((x.amount for x in self.approved), ZERO)


def ledger(store: RecordsStore, financial_year: int) -> Ledger:
    records = PppRecords(store)
    result = Ledger(financial_year, waiting=records.waiting())
    schools = {s.id: s.name for s in store.settings()}
    for request in records.decided_in_year(financial_year):
        school = request.setting_id or NO_SCHOOL
        child_line = result.by_child.setdefault(request.child_id, LedgerLine(request.child_id, request.child_id))
        school_line = result.by_school.setdefault(school, LedgerLine(school, schools.get(school, NO_SCHOOL)))
        if request.status is PppStatus.APPROVED:
            result.approved.append(request)
            for line in (child_line, school_line):
                line.approved += request.amount
                line.approved_count += 1
                line.impact_missing += request.impact is None
        elif request.status is PppStatus.REFUSED:
            result.refused.append(request)
            child_line.refused_count += 1
            school_line.refused_count += 1
    return result


CSV_COLUMNS = ["financial_year", "request_id", "status", "decided_on", "child_id", "pep_id", "school_id", "school",
               "target_number", "amount", "purpose", "decision_reason", "impact"]


def ledger_csv(store: RecordsStore, financial_year: int) -> str:
    """One row per request decided in the year (approved, then refused), then a total
    row per school and a total for the year. Amounts are pounds with two decimals."""
    book = ledger(store, financial_year)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for request in [*book.approved, *book.refused]:
        school = request.setting_id or ""
        writer.writerow(_safe([
            book.label, request.id, request.status.value, request.decided_at.astimezone(LONDON).date().isoformat(),
            request.child_id, request.pep_id, school, book.by_school[school or NO_SCHOOL].name,
            request.target_number, f"{request.amount:.2f}" if request.status is PppStatus.APPROVED else "0.00",
            request.purpose, request.decision_reason or "", request.impact or "",
        ]))
    for key, line in sorted(book.by_school.items()):
        writer.writerow(_safe([book.label, "", "school total", "", "", "", "" if key == NO_SCHOOL else key, line.name,
                               "", f"{line.approved:.2f}", f"{line.approved_count} approved, {line.refused_count} refused",
                               "", ""]))
    writer.writerow([book.label, "", "total", "", "", "", "", "", "", f"{book.total:.2f}",
                     f"{len(book.approved)} approved, {len(book.refused)} refused", "", ""])
    return out.getvalue()


def _safe(row: list) -> list:
    """Cells a spreadsheet would run as a formula start with an apostrophe (CSV injection)."""
    return [f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v for v in row]

