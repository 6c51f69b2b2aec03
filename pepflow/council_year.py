"""A council's academic year played day by day on the simulation clock.

The part ``pep demo`` (seven children, every role on time) and ``pep simulate``
(a whole council, people with delays and capacities) share: the council's events are
told through :class:`pepflow.events.CouncilEvents` on their dates, the caseworkers
complete user tasks with :mod:`pepflow.roleplay`'s answers, the schools return the Word
forms they were sent, and the real engine, workers, documents and local outbox run
between them (:meth:`pepflow.app.OutboxRuntime.run_until_idle`, then ``advance`` one day).

Who does what, and when, is a policy handed in: :class:`Caseworkers` decides which open
user tasks are done today and by whom, :class:`Schools` which forms come back today.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from .app import App
from .calendar import WorkingDays
from .casework import local_date
from .documents import SchoolReturn, SmartTarget
from .documents.fill import edit_document, fill_form, sdt_by_tag, set_text
from .domain.enums import DocumentKind
from .engine.views import UserTask
from .events import CouncilEvents

log = logging.getLogger(__name__)

#: ``note(reference, step, who, detail)``: a line of the timeline
Note = Callable[[str, str, str, str], None]


@dataclass(frozen=True)
class Event:
    """A council event on a date (what ``pep event ...`` records)."""

    on: date
    kind: str  # already-in-care, looked-after, setting-changed, left-care
    child_id: str
    emergency: bool = False
    setting_id: str | None = None
    reason: str | None = None


def publish_event(app: App, event: Event, *, actor: str = "demo") -> None:
    """What ``pep event ...`` does (:mod:`pepflow.events`): record the fact, tell the process."""
    events = CouncilEvents(app.store, app.engine, app.casework, app.clock)
    if event.kind == "looked-after":
        events.looked_after(event.child_id, event.on, emergency=event.emergency, actor=actor)
    elif event.kind == "already-in-care":
        events.already_in_care(event.child_id, actor=actor)
    elif event.kind == "setting-changed":
        events.setting_changed(event.child_id, event.setting_id, event.on, actor=actor)
    elif event.kind == "left-care":
        events.left_care(event.child_id, event.on, reason=event.reason or "left care", actor=actor)
    else:
        raise ValueError(f"unknown event {event.kind!r}")


def event_detail(event: Event) -> str:
    if event.kind == "looked-after":
        return "emergency entry (1b)" if event.emergency else "planned entry (1a)"
    if event.kind == "setting-changed":
        return f"new setting {event.setting_id}: new PEP within 10 working days"
    if event.kind == "left-care":
        return event.reason or ""
    return "already in care: the termly cycle starts"


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


def writes_in_words(pep_id: str) -> bool:
    """One school in four writes a number the way people do ("6 (4 of them
    unauthorised)"): the read-back keeps it verbatim and business support reviews it
    (``ReviewReturnedFormTask``) - the same for the same PEP in every run."""
    return int(hashlib.sha256(f"words:{pep_id}".encode()).hexdigest(), 16) % 4 == 0


def _sessions_in_words(root) -> None:
    try:
        sdt_by_tag(root, "school.sessions_missed")
    except LookupError:  # a form without the box (early years, no setting)
        return
    set_text(root, "school.sessions_missed", "6 (4 of them unauthorised)")


def return_school_form(app: App, pep_id: str, today: date, note: Note | None = None) -> None:
    """A designated teacher (or health visitor) fills in the form they were sent and
    sends it back: ``pep form-returned`` (:meth:`CouncilEvents.form_returned`)."""
    store = app.store
    pep = store.pep(pep_id)
    document = store.latest_document(pep.id, DocumentKind.FORM)
    # python-docx work: in the product's document worker process when there is one
    answers = school_answers_for(pep.variant.value, today)
    filled = app.casework.spins.run(fill_form, store.document_content(document.id), answers)
    if writes_in_words(pep.id):
        filled = edit_document(filled, _sessions_in_words)
    who = f"{pep.setting_id} designated teacher" if pep.setting_id else "health visitor"
    CouncilEvents(store, app.engine, app.casework, app.clock).form_returned(pep.id, filled, actor=who)
    if note is not None:
        setting = store.setting(pep.setting_id) if pep.setting_id else None
        label = (setting.designated_teacher_name or setting.name) if setting else "health visitor"
        note(pep.id, "School form returned (4)", label, "filled Word form uploaded")


@dataclass(frozen=True)
class Completion:
    """A person completes a user task today with these answers."""

    task: UserTask
    actor: str
    answers: dict[str, Any]


class Caseworkers(Protocol):
    def work(self, today: date, now: datetime, tasks: Sequence[UserTask]) -> Iterable[Completion]: ...


class Schools(Protocol):
    async def work(self, today: date, note: Note | None) -> None: ...


class YearLoop:
    """Plays the days from the clock's today to ``until``: events, people, schools, and
    the engine, workers and outbox between them."""

    def __init__(
        self, app: App, events: Sequence[Event], caseworkers: Caseworkers, schools: Schools, *,
        actor: str = "demo", note: Note | None = None, progress: Callable[[date], None] | None = None,
        on_event: Callable[[Event, Exception | None], None] | None = None,
        on_completion: Callable[[Completion], None] | None = None, idle_after_each_task: bool = True,
        review_returns: Callable[[date], Awaitable[int]] | None = None,
    ) -> None:
        self.app = app
        self.caseworkers = caseworkers
        self.schools = schools
        self.actor = actor
        self.note = note
        self.progress = progress
        self.on_event = on_event
        self.on_completion = on_completion
        # business support's list of returned forms no review task waits for (/reviews)
        self.review_returns = review_returns
        # False: the day's completions first, then their jobs in one batch (a big council)
        self.idle_after_each_task = idle_after_each_task
        self.working_days = WorkingDays()
        self._events: dict[date, list[Event]] = {}
        for event in events:
            self._events.setdefault(event.on, []).append(event)

    async def run(self, until: date) -> None:
        app = self.app
        day = local_date(app.clock.now())
        while day <= until:
            for event in self._events.get(day, ()):
                self._publish(event)
            await app.runtime.run_until_idle()
            # people work on working days; the engine's timers and mail do not rest
            if self.working_days.is_working_day(day):
                await self._people_work(day)
                if self.review_returns is not None:
                    await self.review_returns(day)
                await self.schools.work(day, self.note)
            await app.runtime.run_until_idle()
            if self.progress:
                self.progress(day)
            await app.runtime.advance(timedelta(days=1))
            day = local_date(app.clock.now())

    def _publish(self, event: Event) -> None:
        try:
            publish_event(self.app, event, actor=self.actor)
        except Exception as exc:  # the caller decides whether a refused event is a failure
            if self.on_event is None:
                raise
            self.on_event(event, exc)
            return
        if self.on_event is not None:
            self.on_event(event, None)
        if self.note:
            self.note(event.child_id, f"Event: {event.kind.replace('-', ' ')}", "council", event_detail(event))

    async def _people_work(self, day: date) -> None:
        app = self.app
        now = app.clock.now()
        for completion in self.caseworkers.work(day, now, app.engine.user_tasks()):
            app.engine.complete_user_task(completion.task.user_task_key, completion.answers, actor=completion.actor)
            if self.on_completion is not None:
                self.on_completion(completion)
            if self.idle_after_each_task:
                await app.runtime.run_until_idle()
