"""``pep demo``: a simulated academic year of PEPs for a handful of fictional children.

It loads the sample data, runs the real embedded engine, workers, documents and
local STARTTLS outbox on a simulation clock from the start of the autumn term 2026 to
the end of the summer term 2027, and plays every role: caseworkers complete their
tasks (``pepflow.roleplay``), schools return most PEP forms filled in, and the
council's events happen on their dates (children entering care, planned and in an
emergency; a change of school; a child leaving care). Every variant of the process
appears: planned, emergency, 16-17 (Leaving Care Worker), 18+ (Personal Adviser),
a young child not in an early-years setting, and a change of school.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from .app import App, open_app
from .casework import LONDON, local_date
from .clock import SimulationClock
from .config import AppSettings
from .council_year import Completion, Event, Note, YearLoop, event_detail, publish_event, return_school_form, school_answers_for
from .domain.enums import MailStatus, PepStatus
from .engine.views import UserTask
from .roleplay import RolePlayer
from .sample_data import load_sample_data

log = logging.getLogger(__name__)

START = datetime(2026, 9, 7, 7, 0, tzinfo=timezone.utc)  # Monday 7 September 2026, 08:00 in England
END = date(2027, 7, 23)

__all__ = ["END", "EVENTS", "START", "DemoResult", "Event", "SimulatedSchools", "publish_event", "run_demo", "school_answers_for"]


EVENTS = (
    Event(date(2026, 9, 7), "already-in-care", "C-0003"),  # 16-17: Leaving Care Worker
    Event(date(2026, 9, 7), "already-in-care", "C-0004"),  # 18 this month: Personal Adviser
    Event(date(2026, 9, 7), "already-in-care", "C-0006"),  # will change school in January
    Event(date(2026, 9, 7), "already-in-care", "C-0008"),  # turns 16 in January: handover
    Event(date(2026, 9, 14), "looked-after", "C-0001"),  # planned (1a)
    Event(date(2026, 9, 21), "looked-after", "C-0002", emergency=True),  # emergency (1b)
    Event(date(2026, 9, 28), "looked-after", "C-0007"),  # early years, in a nursery
    Event(date(2026, 10, 5), "looked-after", "C-0005", emergency=True),  # early years, no setting
    Event(date(2027, 1, 4), "setting-changed", "C-0006", setting_id="ES-0004"),
    Event(date(2027, 3, 12), "left-care", "C-0002", reason="returned-home"),
)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    reference: str
    step: str
    who: str
    detail: str = ""


@dataclass
class DemoResult:
    timeline: list[TimelineEntry] = field(default_factory=list)
    outbox: Path | None = None
    documents: Path | None = None
    final_peps: int = 0
    emails: int = 0
    documents_made: int = 0
    incidents: list[str] = field(default_factory=list)


class SimulatedSchools:
    """Designated teachers return two PEP forms in three, a few days after getting them."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.returned: set[str] = set()

    def returns(self, pep_id: str) -> bool:
        return int(hashlib.sha256(pep_id.encode()).hexdigest(), 16) % 3 != 0

    async def work(self, today: date, note: Note | None) -> None:
        store = self.app.store
        for entry in store.mail_log():
            if entry.kind != "pep-form" or entry.status != MailStatus.SENT or entry.pep_id in self.returned:
                continue
            pep = store.pep(entry.pep_id)
            if pep.status != PepStatus.FORM_SENT or not self.returns(pep.id):
                continue
            if local_date(entry.updated_at) + timedelta(days=4) > today:
                continue
            self.returned.add(pep.id)
            return_school_form(self.app, pep.id, today, note)


class EveryoneOnTime:
    """Every caseworker completes every open task the working day it appears."""

    def __init__(self, roles: RolePlayer) -> None:
        self.roles = roles

    def work(self, today: date, now: datetime, tasks: Sequence[UserTask]) -> Iterable[Completion]:
        for task in tasks:
            if not self.roles.waits(task):
                yield Completion(task, self.roles.actor_for(task), self.roles.variables_for(task, now))


async def run_demo(data_dir: Path, *, until: date = END, fresh: bool = True, progress: Callable[[date], None] | None = None) -> DemoResult:
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    # final PEPs get their tagged PDF copy too (a pooled LibreOffice: ~0.2 s each, plus one
    # start of ~2 s on the first)
    settings = AppSettings(data_dir=data_dir, database_url=None, smtp_host=None, environment="development")
    clock = SimulationClock(START)
    result = DemoResult(outbox=data_dir / "outbox", documents=data_dir / "documents")
    names: dict[str, str] = {}

    def note(reference: str, step: str, who: str, detail: str = "") -> None:
        result.timeline.append(TimelineEntry(clock.now(), reference, step, who, detail))

    def completed(c: Completion) -> None:
        note(c.task.variables.get("pepId", ""), c.task.name or c.task.element_id, names.get(c.actor, c.actor), _task_detail(c.task.element_id, c.answers))

    async with open_app(settings, clock) as app:
        load_sample_data(app.store, actor="demo")
        names.update({s.id: s.name for s in app.store.all_staff()})
        loop = YearLoop(
            app, EVENTS, EveryoneOnTime(RolePlayer(app.store)), SimulatedSchools(app),
            note=note, progress=progress, on_completion=completed,
        )
        await loop.run(until)
        _collect_records(app, result)
    result.timeline.sort(key=lambda e: e.at)
    return result


def _task_detail(element_id: str, answers: dict) -> str:
    if element_id == "ArrangeInitialMeetingTask":
        return f"meeting {datetime.fromisoformat(answers['meetingAt'].replace('Z', '+00:00')).astimezone(LONDON):%a %d %b %H:%M}"
    if element_id == "RecordMeetingTask":
        days = [answers[k] for k in ("nextPepDate1", "nextPepDate2") if answers.get(k)]
        dates = ", ".join(f"{date.fromisoformat(d):%d %b %Y}" for d in days)
        return f"next PEP: {dates}"
    if element_id == "CheckAndFinalisePepTask":
        return "approved" if answers.get("pepApproved") else f"sent back ({answers.get('returnReasonCode')})"
    if element_id == "ReviewReturnedFormTask":
        return "returned form accepted" if answers.get("reviewDecision") == "accept" else f"school asked again ({answers.get('queryReasonCode')})"
    return ""


def _collect_records(app: App, result: DemoResult) -> None:
    store = app.store
    for child in store.children():
        for pep in store.peps_for(child.id):
            if pep.status == PepStatus.FINAL:
                result.final_peps += 1
            for document in store.documents(pep.id):
                result.documents_made += 1
                result.timeline.append(TimelineEntry(document.created_at, pep.id, f"Document: {document.kind.value}", "system", document.filename))
    for entry in store.mail_log():
        if entry.status == MailStatus.SENT:
            result.emails += 1
        result.timeline.append(TimelineEntry(entry.created_at, entry.pep_id or "", f"E-mail: {entry.kind}", "business support (system)", f"to {entry.recipient} [{entry.status.value}]"))
    result.incidents = [f"{i.element_id}: {i.error_message}" for i in app.engine.incidents()]
