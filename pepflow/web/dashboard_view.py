"""The Virtual School dashboard's figures, child by child (issue 14, point 6).

Every card is a list of children with the reason each is on it; the figure is the
length of the list, so a card always drills down to exactly the children behind it.
Filters (locality, school, worker, term) narrow the children first, then every card
and the CSV (one row per child) follow. The trend is the same measure term by term.

Definitions (docs/web.md): *due this term* = a PEP (not cancelled) for the term;
*completed in time* = final by the term's last day; *initial meeting late* = an
initial PEP whose meeting is (or was) after its due date - arranged late counts as
late, not only never arranged; *up to date* = a final PEP for this term or the
previous one, children in care fewer than 20 working days not counted.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from pepflow.calendar import MissingTermDates, WorkingDays, academic_year_of
from pepflow.casework import local_date
from pepflow.domain.enums import PepStatus, TermName
from pepflow.domain.rules import initial_meeting_due
from pepflow.store.models import (
    CareEpisodeRow, ChildRow, EnrolmentRow, EscalationRow, PepRow, SettingRow, StaffRow,
)

from . import words

_WORKING_DAYS = WorkingDays()

CARDS: dict[str, str] = {
    "in-care": "children in care",
    "due": "PEPs due this term",
    "in-time": "PEPs completed in time",
    "initial-late": "initial meetings late",
    "forms": "school forms not returned",
    "late-steps": "late steps escalated to the PEP co-ordinator",
    "not-up-to-date": "without an up-to-date PEP",
}
TREND_TERMS = 6


@dataclass
class ChildLine:
    child_id: str
    name: str
    locality: str
    school_id: str | None
    school: str
    worker_id: str | None
    worker: str
    entered_care_on: date
    current_pep: str | None = None
    status: str = ""
    cards: dict[str, str] = field(default_factory=dict)  # card -> reason

    def reason(self, card: str) -> str:
        return self.cards.get(card, "")


@dataclass
class Filters:
    locality: str = ""
    school: str = ""
    worker: str = ""
    term: str = ""  # "2026-autumn"; empty: the current term
    problems: list[str] = field(default_factory=list)

    def query(self) -> dict[str, str]:
        return {k: v for k, v in (("locality", self.locality), ("school", self.school), ("worker", self.worker),
                                  ("term", self.term)) if v}


def _term_key(year: int, term: str) -> str:
    return f"{year}-{term}"


def _previous(year: int, term: str) -> tuple[int, str]:
    order = [t.value for t in TermName]
    i = order.index(term)
    return (year, order[i - 1]) if i > 0 else (year - 1, order[-1])


class Dashboard:
    """Reads the records once; cards, filters, trend and CSV are computed from that."""

    def __init__(self, web) -> None:
        self.web = web
        self.today = local_date(web.now())
        with web.reads.connect() as conn:
            self.children = {r.id: r for r in conn.execute(sa.select(
                ChildRow.id, ChildRow.given_name, ChildRow.family_name, ChildRow.locality)).all()}
            self.episodes = conn.execute(sa.select(
                CareEpisodeRow.child_id, CareEpisodeRow.entered_care_on, CareEpisodeRow.left_care_on)).all()
            self.peps = conn.execute(sa.select(
                PepRow.id, PepRow.child_id, PepRow.academic_year, PepRow.term, PepRow.status, PepRow.is_initial,
                PepRow.finalised_at, PepRow.form_sent_at, PepRow.form_returned_at, PepRow.meeting_at,
                PepRow.care_episode_id, PepRow.owner_staff_id).order_by(PepRow.created_at)).all()
            self.late = conn.execute(sa.select(
                EscalationRow.pep_id, EscalationRow.child_id, EscalationRow.kind, EscalationRow.owner_staff_id,
                EscalationRow.raised_at).where(EscalationRow.resolved_at.is_(None)).order_by(EscalationRow.raised_at)).all()
            self.enrolments = conn.execute(sa.select(
                EnrolmentRow.child_id, EnrolmentRow.setting_id, EnrolmentRow.starts_on, EnrolmentRow.ends_on,
            ).order_by(EnrolmentRow.starts_on)).all()
            self.settings = {r.id: r.name for r in conn.execute(sa.select(SettingRow.id, SettingRow.name)).all()}
            self.staff = {r.id: r.name for r in conn.execute(sa.select(StaffRow.id, StaffRow.name)).all()}
        self._workers: dict[str, str | None] = {}
        self.calendar = None
        try:
            self.calendar = web.store.school_calendar_for(None)
        except (MissingTermDates, LookupError, ValueError):
            self.calendar = None

    # ------------------------------------------------------------------ terms
    def term_of(self, day: date) -> tuple[int, str, date | None, date | None] | None:
        if self.calendar is None:
            return None
        try:
            term = self.calendar.term_of(day)
            if term is not None:
                year = academic_year_of(term.starts_on)
            else:
                year, term = self.calendar.next_term(day)
        except (MissingTermDates, LookupError, ValueError):
            return None
        name = term.name.value if hasattr(term.name, "value") else str(term.name)
        return year, name, term.starts_on, term.ends_on

    def term_dates(self, year: int, name: str) -> tuple[date | None, date | None]:
        if self.calendar is None:
            return None, None
        try:
            term = self.calendar.terms_for(year).term_named(TermName(name))
        except (MissingTermDates, LookupError, ValueError):
            return None, None
        return term.starts_on, term.ends_on

    def terms_available(self) -> list[tuple[int, str]]:
        return sorted({(p.academic_year, p.term) for p in self.peps},
                      key=lambda t: (t[0], [x.value for x in TermName].index(t[1])))

    # ------------------------------------------------------------------ people
    def in_care_on(self, day: date) -> dict[str, date]:
        out: dict[str, date] = {}
        for e in self.episodes:
            if e.entered_care_on <= day and (e.left_care_on is None or e.left_care_on > day):
                out[e.child_id] = max(e.entered_care_on, out.get(e.child_id, e.entered_care_on))
        return out

    def school_on(self, child_id: str, day: date) -> str | None:
        found = None
        for e in self.enrolments:
            if e.child_id == child_id and e.starts_on <= day and (e.ends_on is None or e.ends_on >= day):
                found = e.setting_id  # enrolments are read oldest first: the latest wins
        return found

    def worker_of(self, child_id: str) -> str | None:
        """The PEP owner allocated today (read once per reader)."""
        if child_id not in self._workers:
            state = self.web.allocation_state(child_id)
            self._workers[child_id] = state.staff_id if state is not None else None
        return self._workers[child_id]

    def initial_due(self, entered: date) -> date:
        cw = self.web.casework
        s = cw.config.settings
        return initial_meeting_due(entered, s.initial_meeting_days, s.initial_meeting_day_kind, cw.working_days,
                                   review_working_days=s.initial_cla_review_working_days)

    # ------------------------------------------------------------------ figures
    def compute(self, f: Filters | None = None) -> dict[str, Any]:
        f = f or Filters()
        current = self.term_of(self.today)
        chosen = current
        if f.term:
            try:
                year_text, name = f.term.split("-", 1)
                TermName(name)
                starts, ends = self.term_dates(int(year_text), name)
                chosen = (int(year_text), name, starts, ends)
            except ValueError:
                f.problems.append(f"Term must be chosen from the list (“{f.term[:40]}” is not a term)")
                f.term = ""
        lines, figures = self._lines(chosen, f)
        return {"asOf": self.today.isoformat(),
                "term": {"academicYear": chosen[0] if chosen else None, "term": chosen[1] if chosen else None,
                         "endsOn": chosen[3].isoformat() if chosen and chosen[3] else None,
                         "label": words.term_label(chosen[0], chosen[1]) if chosen else ""},
                **figures, "lines": lines}

    def _lines(self, term, f: Filters) -> tuple[list[ChildLine], dict[str, Any]]:
        day = self.today
        if term and term[3] and term[3] < day:  # a past term: as at its last day
            day = term[3]
        in_care = self.in_care_on(day)
        current = (term[0], term[1]) if term else None
        previous = _previous(*current) if current else None
        term_end = term[3] if term else None
        lines: dict[str, ChildLine] = {}
        for child_id, entered in in_care.items():
            child = self.children.get(child_id)
            school = self.school_on(child_id, day)
            worker = self.worker_of(child_id)
            line = ChildLine(child_id, f"{child.given_name} {child.family_name}" if child else child_id,
                             (child.locality or "") if child else "", school, self.settings.get(school, "No setting") if school else "No setting",
                             worker, self.staff.get(worker, "Nobody allocated") if worker else "Nobody allocated", entered)
            if f.locality and line.locality != f.locality:
                continue
            if f.school and line.school_id != f.school:
                continue
            if f.worker and line.worker_id != f.worker:
                continue
            line.cards["in-care"] = f"In care since {words.long_date(entered)}"
            lines[child_id] = line
        final_terms: dict[str, set[tuple[int, str]]] = {}
        for p in self.peps:
            if p.child_id not in lines:
                continue
            line = lines[p.child_id]
            if p.status != PepStatus.CANCELLED.value:
                line.current_pep, line.status = p.id, words.status(p.status)
            if p.status == PepStatus.FINAL.value:
                final_terms.setdefault(p.child_id, set()).add((p.academic_year, p.term))
            if current and (p.academic_year, p.term) == current and p.status != PepStatus.CANCELLED.value:
                line.cards["due"] = f"{p.id}: {words.status(p.status).lower()}"
                if p.status == PepStatus.FINAL.value and p.finalised_at is not None and (
                        term_end is None or local_date(p.finalised_at) <= term_end):
                    line.cards["in-time"] = f"{p.id}: final on {words.long_date(p.finalised_at)}"
            if p.status == PepStatus.FORM_SENT.value and p.form_returned_at is None:
                line.cards["forms"] = f"{p.id}: form sent {words.long_date(p.form_sent_at)}, not returned"
            if p.is_initial and p.status != PepStatus.CANCELLED.value:
                due = self.initial_due(line.entered_care_on)
                in_term = term is None or term[2] is None or (term[2] <= due <= (term[3] or due))
                held = local_date(p.meeting_at) if p.meeting_at else None
                if in_term and held and held > due:
                    line.cards["initial-late"] = (f"Meeting on {words.long_date(held)}, due by {words.long_date(due)} "
                                                  f"({_WORKING_DAYS.working_days_between(due, held)} working days late)")
                elif in_term and held is None and self.today > due:
                    line.cards["initial-late"] = f"No meeting arranged; due by {words.long_date(due)}"
        from pepflow.escalation import KINDS

        for e in self.late:
            if e.child_id in lines:
                kind = KINDS.get(e.kind)
                what = kind.what if kind else e.kind
                previous_reason = lines[e.child_id].cards.get("late-steps")
                reason = f"{what[:1].upper()}{what[1:]} (escalated {words.long_date(e.raised_at)})"
                lines[e.child_id].cards["late-steps"] = f"{previous_reason}; {reason}" if previous_reason else reason
        cutoff = _WORKING_DAYS.add_working_days(day, -20)
        counted = [c for c, line in lines.items() if line.entered_care_on <= cutoff]
        for c in counted:
            if not (final_terms.get(c, set()) & {current, previous}):
                lines[c].cards["not-up-to-date"] = ("No final PEP for " + words.term_label(*current) + " or "
                                                    + words.term_label(*previous)) if current else "No final PEP"
        up_to_date = [c for c in counted if "not-up-to-date" not in lines[c].cards]
        ordered = sorted(lines.values(), key=lambda x: (x.name.split()[-1:], x.name))
        count = {card: sum(1 for x in ordered if card in x.cards) for card in CARDS}
        return ordered, {
            "childrenInCare": count["in-care"], "pepsDueThisTerm": count["due"], "pepsCompletedInTime": count["in-time"],
            "overdueInitialMeetings": count["initial-late"], "formsNotReturned": count["forms"],
            "lateSteps": sum(1 for e in self.late if e.child_id in lines),
            "childrenCounted": len(counted), "childrenWithUpToDatePep": len(up_to_date),
            "percentWithUpToDatePep": round(100.0 * len(up_to_date) / len(counted), 1) if counted else None,
            "childrenWithoutUpToDatePep": sorted(c for c in counted if c not in up_to_date),
            "cards": count,
            "escalations": [{"pepId": e.pep_id, "childId": e.child_id, "kind": e.kind, "ownerStaffId": e.owner_staff_id,
                             "raisedAt": e.raised_at.isoformat()} for e in self.late if e.child_id in lines],
        }

    def trend(self, f: Filters) -> list[dict[str, Any]]:
        """Per term with PEPs (the last few): PEPs due, completed in time, and the share."""
        out = []
        for year, name in self.terms_available()[-TREND_TERMS:]:
            starts, ends = self.term_dates(year, name)
            figures = self._lines((year, name, starts, ends), Filters(f.locality, f.school, f.worker))[1]
            due, in_time = figures["pepsDueThisTerm"], figures["pepsCompletedInTime"]
            out.append({"label": words.term_label(year, name), "key": _term_key(year, name), "due": due,
                        "inTime": in_time, "percent": round(100.0 * in_time / due, 1) if due else None,
                        "initialLate": figures["overdueInitialMeetings"]})
        return out


def csv_rows(result: dict[str, Any]) -> str:
    """One table, one row per child (after filters), with a yes/no column per card and
    the reasons."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["child_id", "child_name", "locality", "school", "worker", "in_care_since", "current_pep", "status",
                     *[c.replace("-", "_") for c in CARDS], "reasons", "term", "as_of"])
    for line in result["lines"]:
        writer.writerow([line.child_id, line.name, line.locality, line.school, line.worker,
                         line.entered_care_on.isoformat(), line.current_pep or "", line.status,
                         *["yes" if c in line.cards else "no" for c in CARDS],
                         "; ".join(f"{CARDS[c]}: {r}" for c, r in line.cards.items() if c != "in-care"),
                         result["term"]["label"], result["asOf"]])
    return out.getvalue()


def chart_svg(trend: list[dict[str, Any]]) -> str:
    """An accessible bar chart (SVG, no script): the share of PEPs completed in time
    per term. The same figures are in the table next to it."""
    width, height, left, bottom, top = 640, 240, 44, 36, 16
    if not trend:
        return ""
    step = (width - left - 8) / len(trend)
    bars = []
    for i, t in enumerate(trend):
        pct = t["percent"] or 0
        h = (height - bottom - top) * pct / 100
        x = left + i * step + step * 0.15
        y = height - bottom - h
        label = t["label"].replace(" term ", " ")
        bars.append(
            f'<g><rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" fill="#1d70b8">'
            f'<title>{t["label"]}: {"no PEPs due" if t["percent"] is None else str(t["percent"]) + "%"}</title></rect>'
            f'<text x="{x + step * 0.35:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="12">'
            f'{"–" if t["percent"] is None else str(round(t["percent"])) + "%"}</text>'
            f'<text x="{x + step * 0.35:.1f}" y="{height - bottom + 16:.1f}" text-anchor="middle" font-size="11">{label}</text></g>')
    axis = "".join(
        f'<line x1="{left}" x2="{width - 8}" y1="{height - bottom - (height - bottom - top) * v / 100:.1f}" '
        f'y2="{height - bottom - (height - bottom - top) * v / 100:.1f}" stroke="#b1b4b6" stroke-width="1"/>'
        f'<text x="{left - 6}" y="{height - bottom - (height - bottom - top) * v / 100 + 4:.1f}" text-anchor="end" font-size="11">{v}%</text>'
        for v in (0, 25, 50, 75, 100))
    return (f'<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="trend-title" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="trend-title">PEPs completed in time, by term: '
            + "; ".join(f'{t["label"]} {"no PEPs due" if t["percent"] is None else str(t["percent"]) + "%"}' for t in trend)
            + f'</title>{axis}{"".join(bars)}</svg>')


def filter_options(d: Dashboard) -> dict[str, list[tuple[str, str]]]:
    localities = sorted({c.locality for c in d.children.values() if c.locality})
    schools = sorted(((i, n) for i, n in d.settings.items()), key=lambda x: x[1])
    owners = {d.worker_of(c) for c in d.in_care_on(d.today)} | {p.owner_staff_id for p in d.peps}
    workers = sorted(((i, d.staff[i]) for i in owners if i and i in d.staff), key=lambda x: x[1])
    terms = [(_term_key(y, n), words.term_label(y, n)) for y, n in reversed(d.terms_available())]
    return {"localities": [(x, x.capitalize()) for x in localities], "schools": schools, "workers": workers, "terms": terms}


def check(f: Filters, options: dict[str, list[tuple[str, str]]]) -> None:
    """A filter value that names nothing is refused in words (and cleared), never
    quietly answered with an empty dashboard."""
    for attr, key, what in (("locality", "localities", "Locality"), ("school", "schools", "School"),
                            ("worker", "workers", "Worker")):
        value = getattr(f, attr)
        if value and value not in {v for v, _ in options[key]}:
            f.problems.append(f"{what} “{value[:40]}” is not one of the list; choose from the list")
            setattr(f, attr, "")


def as_of(value: datetime | date) -> str:
    return words.long_date(value)
