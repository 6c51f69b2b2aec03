"""The Virtual School's workload by school week: forms sent, meetings, the typing-up
queue per business support officer, PEPs overdue and mail sent.

Counted from the records and the engine's user tasks of one database: a council's live
records (the year so far), or the records of a ``pep simulate`` run (a forecast, and
the what-ifs a Virtual School head runs before a term: more children, schools returning
forms late). One week is Monday to Sunday; its figures are what happened in it, and the
queues (typing up, PEPs overdue) as they stood at the end of its Friday. Weeks with no
school day (holidays) are kept and marked, so the chart shows the whole year.

The page is ``/forecast`` (:mod:`pepflow.web.pages`); ``pep simulate`` writes
``forecast.csv`` and ``forecast.png`` beside its records.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from .calendar import MissingTermDates
from .casework import LONDON
from .engine import store as engine_tables
from .store import RecordsStore
from .store.workload import WorkloadQueries

TYPE_UP = "TypeUpPepTask"


@dataclass(frozen=True)
class WeekLoad:
    week_starts: date
    school_days: int
    forms_sent: int
    meetings: int
    typing_queue: int
    typing_queue_per_officer: float
    peps_overdue: int
    escalations_raised: int
    mail_sent: int


COLUMNS = tuple(f.name for f in fields(WeekLoad))


def _end_of_friday(monday: date) -> datetime:
    return datetime.combine(monday + timedelta(days=5), time(0), tzinfo=LONDON)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LONDON)


def _count_in(instants: list[datetime], start: datetime, end: datetime) -> int:
    return bisect_right(instants, end) - bisect_right(instants, start)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC instants; PostgreSQL aware ones."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def typing_up_tasks(engine) -> list[tuple[datetime, datetime | None]]:
    """``(created, completed)`` of every type-up task that was not cancelled."""
    u = engine_tables.user_tasks
    with engine.store.read() as conn:
        rows = conn.execute(sa.select(u.c.created_at, u.c.completed_at, u.c.state).where(u.c.element_id == TYPE_UP)).all()
    return [(_aware(created), _aware(completed)) for created, completed, state in rows if state != "CANCELED"]


def weekly_workload(store: RecordsStore, engine, first: date, last: date) -> list[WeekLoad]:
    """The weeks from the one holding ``first`` to the one holding ``last``."""
    facts = WorkloadQueries(store).facts()
    forms = sorted(map(_aware, facts.forms_sent))
    meetings = sorted(map(_aware, facts.meetings))
    mail = sorted(map(_aware, facts.mail_sent))
    escalations = [(_aware(raised), _aware(resolved)) for raised, resolved in facts.escalations]
    typing = typing_up_tasks(engine)
    officers = max(1, facts.business_support_officers)
    calendar = store.school_calendar_for(None)
    weeks = []
    monday = first - timedelta(days=first.weekday())
    while monday <= last:
        start, end = _start(monday), _start(monday + timedelta(days=7))
        friday = _end_of_friday(monday)
        try:
            school_days = sum(1 for i in range(5) if calendar.is_school_day(monday + timedelta(days=i)))
        except MissingTermDates:
            school_days = 0
        queue = sum(1 for created, done in typing if created < friday and (done is None or done >= friday))
        weeks.append(WeekLoad(
            week_starts=monday, school_days=school_days,
            forms_sent=_count_in(forms, start, end), meetings=_count_in(meetings, start, end),
            typing_queue=queue, typing_queue_per_officer=round(queue / officers, 2),
            peps_overdue=sum(1 for raised, resolved in escalations if raised < friday and (resolved is None or resolved >= friday)),
            escalations_raised=sum(1 for raised, _ in escalations if start <= raised < end),
            mail_sent=_count_in(mail, start, end),
        ))
        monday += timedelta(days=7)
    return weeks


def to_csv(weeks: list[WeekLoad]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for week in weeks:
        row = asdict(week)
        row["week_starts"] = week.week_starts.isoformat()
        writer.writerow(row)
    return out.getvalue()


def to_png(weeks: list[WeekLoad], title: str = "PEP workload by school week") -> bytes:
    """The chart: four panels sharing the weeks, holiday weeks shaded. matplotlib with
    its non-interactive Agg backend (no display, thread-safe per figure)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 8.5), dpi=100, layout="constrained")
    axes = figure.subplots(4, 1, sharex=True)
    x = [w.week_starts for w in weeks]
    panels = (
        ("Forms sent and meetings", (("forms_sent", "forms sent"), ("meetings", "meetings"))),
        ("Typing-up queue per business support officer (Friday)", (("typing_queue_per_officer", "PEPs waiting per officer"),)),
        ("PEPs overdue (escalated to the PEP co-ordinator, Friday)", (("peps_overdue", "open escalations"),)),
        ("Secure mail sent", (("mail_sent", "messages"),)),
    )
    for ax, (heading, series) in zip(axes, panels, strict=True):
        for name, label in series:
            ax.plot(x, [getattr(w, name) for w in weeks], marker="o", markersize=3, label=label)
        for week in weeks:
            if week.school_days == 0:
                ax.axvspan(week.week_starts, week.week_starts + timedelta(days=7), color="0.9", zorder=0)
        ax.set_title(heading, fontsize=10, loc="left")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("week starting (grey: school holidays)")
    figure.suptitle(title)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
