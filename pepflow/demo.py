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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from .app import App, open_app
from .calendar import WorkingDays
from .casework import LONDON, local_date
from .clock import SimulationClock
from .config import AppSettings
from .documents import SchoolReturn, SmartTarget
from .documents.fill import fill_form
from .events import CouncilEvents
from .domain.enums import DocumentKind, MailStatus, PepStatus
from .roleplay import RolePlayer
from .sample_data import load_sample_data

log = logging.getLogger(__name__)

START = datetime(2026, 9, 7, 7, 0, tzinfo=timezone.utc)  # Monday 7 September 2026, 08:00 in England
END = date(2027, 7, 23)


@dataclass(frozen=True)
class Event:
    on: date
    kind: str  # already-in-care, looked-after, setting-changed, left-care
    child_id: str
    emergency: bool = False
    setting_id: str | None = None
    reason: str | None = None


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


def publish_event(app: App, event: Event) -> None:
    """What ``pep event ...`` does (:mod:`pepflow.events`): record the fact, tell the process."""
    events = CouncilEvents(app.store, app.engine, app.casework, app.clock)
    if event.kind == "looked-after":
        events.looked_after(event.child_id, event.on, emergency=event.emergency, actor="demo")
    elif event.kind == "already-in-care":
        events.already_in_care(event.child_id, actor="demo")
    elif event.kind == "setting-changed":
        events.setting_changed(event.child_id, event.setting_id, event.on, actor="demo")
    elif event.kind == "left-care":
        events.left_care(event.child_id, event.on, reason=event.reason or "left care", actor="demo")
    else:
        raise ValueError(f"unknown event {event.kind!r}")


class SimulatedSchools:
    """Designated teachers return two PEP forms in three, a few days after getting them."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.returned: set[str] = set()

    def returns(self, pep_id: str) -> bool:
        return int(hashlib.sha256(pep_id.encode()).hexdigest(), 16) % 3 != 0

    def work(self, today: date, note: Callable[[str, str, str, str], None]) -> None:
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
            document = store.latest_document(pep.id, DocumentKind.FORM)
            filled = fill_form(store.document_content(document.id), school_answers_for(pep.variant.value, today))
            setting = store.setting(pep.setting_id)
            events = CouncilEvents(store, self.app.engine, self.app.casework, self.app.clock)
            events.form_returned(pep.id, filled, actor=f"{setting.id} designated teacher")
            note(pep.id, "School form returned (4)", setting.designated_teacher_name or setting.name, "filled Word form uploaded")


def school_answers_for(variant: str, today: date) -> SchoolReturn:
    """What a designated teacher (or health visitor) writes in the form of a PEP variant."""
    common = dict(
        completed_by="Designated teacher", completed_on=today, wellbeing="Settled, friendships growing",
        child_views="Enjoys art and PE; finds reading hard", sdq_score=14,
        targets=[SmartTarget(target="Read 10 minutes daily with carer", who="Carer and class teacher", by_when=today + timedelta(days=42))],
        ppp_use="Weekly reading intervention", ppp_amount=Decimal("600"),
    )
    if variant == "post-16":
        return SchoolReturn(attendance_percent=Decimal("91.5"), course="Level 2 Construction", neet_risk=False, **common)
    if variant == "early-years-no-setting":  # the health visitor and carers: no school measures
        return SchoolReturn(
            completed_by="Health visitor", completed_on=today, wellbeing="Growing well, sleeping better",
            child_views="Babbles happily, enjoys picture books", carer_views="Settling into routines",
            eyfs_communication_language="Uses single words", targets=common["targets"],
        )
    if variant.startswith("early-years"):
        return SchoolReturn(eyfs_communication_language="Uses short sentences", **common)
    return SchoolReturn(attendance_percent=Decimal("96.2"), sessions_missed=6, exclusions_count=0, sen_status="sen-support", **common)


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

    async with open_app(settings, clock) as app:
        load_sample_data(app.store, actor="demo")
        names.update({s.id: s.name for s in app.store.all_staff()})
        roles = RolePlayer(app.store)
        schools = SimulatedSchools(app)
        working_days = WorkingDays()
        day = local_date(clock.now())
        while day <= until:
            for event in (e for e in EVENTS if e.on == day):
                publish_event(app, event)
                note(event.child_id, f"Event: {event.kind.replace('-', ' ')}", "council", _event_detail(event))
            await app.runtime.run_until_idle()
            # people work on working days; the engine's timers and mail do not rest
            tasks = app.engine.user_tasks() if working_days.is_working_day(day) else []
            for task in tasks:
                actor = roles.actor_for(task)
                answers = roles.variables_for(task, clock.now())
                app.engine.complete_user_task(task.user_task_key, answers, actor=actor)
                note(task.variables.get("pepId", ""), task.name or task.element_id, names.get(actor, actor), _task_detail(task.element_id, answers))
                await app.runtime.run_until_idle()
            if working_days.is_working_day(day):
                schools.work(day, note)
            await app.runtime.run_until_idle()
            if progress:
                progress(day)
            await app.runtime.advance(timedelta(days=1))
            day = local_date(clock.now())
        _collect_records(app, result)
    result.timeline.sort(key=lambda e: e.at)
    return result


def _event_detail(event: Event) -> str:
    if event.kind == "looked-after":
        return "emergency entry (1b)" if event.emergency else "planned entry (1a)"
    if event.kind == "setting-changed":
        return f"new setting {event.setting_id}: new PEP within 10 working days"
    if event.kind == "left-care":
        return event.reason or ""
    return "already in care: the termly cycle starts"


def _task_detail(element_id: str, answers: dict) -> str:
    if element_id == "ArrangeInitialMeetingTask":
        return f"meeting {datetime.fromisoformat(answers['meetingAt'].replace('Z', '+00:00')).astimezone(LONDON):%a %d %b %H:%M}"
    if element_id == "RecordMeetingTask":
        days = [answers[k] for k in ("nextPepDate1", "nextPepDate2") if answers.get(k)]
        dates = ", ".join(f"{date.fromisoformat(d):%d %b %Y}" for d in days)
        return f"next PEP: {dates}"
    if element_id == "CheckAndFinalisePepTask":
        return "approved" if answers.get("pepApproved") else f"sent back ({answers.get('returnReasonCode')})"
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
