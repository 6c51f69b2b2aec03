"""How a council's people behave in ``pep simulate``: not all on time, not all alike.

- **Caseworkers** (:class:`CouncilCaseworkers`): social workers, leaving care workers
  and personal advisers complete their tasks a few working days after they appear; a
  few are late enough for the PEP co-ordinator to be told (``slow_share``). At the
  check, a share of PEPs is sent back for changes (``send_back_share``).
- **Business support** reviews the returned forms no task waits for (``/reviews``)
  and types up PEPs: each officer of a locality's team types up at most
  ``typing_per_day`` a working day, oldest first, so a queue builds when many meetings
  fall in the same weeks.
- **Schools** (:class:`CouncilSchools`): most designated teachers return the Word form
  once, a few days after it arrives (again only when the council asks again); a share
  of settings (``late_share``, the what-if "what if schools return late") return it
  only after the reminder, and a third of those not at all (the meeting goes ahead
  without it). The health visitor of a young child with no setting returns it within
  a week or two.

Every decision is drawn from the run's seed and the record's id, so the same seed gives
the same year, whatever order things happen in.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pepflow.app import App
from pepflow.calendar import WorkingDays
from pepflow.casework import local_date
from pepflow.council_year import Completion, Note, return_school_form
from pepflow.domain.enums import PepStatus
from pepflow.engine.views import UserTask
from pepflow.meetings import MeetingDates
from pepflow.return_review import REVIEW_TASK, decide
from pepflow.roleplay import RolePlayer
from pepflow.school_returns import QUERY_REASONS
from pepflow.store.returns import QUERIED
from pepflow.store.workload import AwaitingForm, WorkloadQueries

log = logging.getLogger(__name__)

TYPE_UP = "TypeUpPepTask"


@dataclass(frozen=True)
class Behaviour:
    """The knobs of a simulated council's people (defaults: an ordinary year)."""

    typing_per_day: int = 4
    send_back_share: float = 0.12
    slow_share: float = 0.04
    late_share: float = 0.15
    never_share_of_late: float = 1 / 3


class Draw:
    """A number in [0, 1) from the seed and a name: the same for the same record."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __call__(self, *parts: object) -> float:
        digest = hashlib.blake2b(repr((self.seed, *parts)).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64


class CouncilCaseworkers:
    """Which open user tasks are done today, by whom, with what answers."""

    DELAYS = {  # working days after the task appears: (usual, slow)
        "ArrangeInitialMeetingTask": ((0, 1, 1, 2), 6),
        "CompletePepFormTask": ((0, 1, 2, 3), 12),
        "RecordMeetingTask": ((0, 0, 1), 4),
        "CheckAndFinalisePepTask": ((0, 1, 2), 8),
    }

    def __init__(self, app: App, behaviour: Behaviour, seed: int) -> None:
        self.app = app
        self.behaviour = behaviour
        self.draw = Draw(seed)
        self.roles = RolePlayer(app.store, send_back=lambda pep_id: self.draw("send-back", pep_id) < behaviour.send_back_share)
        self.working_days = WorkingDays()
        self.teams: dict[str, list[str]] = defaultdict(list)
        for staff in app.store.all_staff():
            if staff.candidate_group:
                self.teams[staff.candidate_group].append(staff.id)
        self.typed: dict[tuple[str, date], int] = defaultdict(int)
        self.settled: set[int] = set()  # returns waiting for review of PEPs final or cancelled

    def officer_for(self, task: UserTask) -> str:
        """The business support officer of the PEP's locality who takes it (the same
        one when a PEP comes back for changes)."""
        group = task.candidate_groups[0] if task.candidate_groups else ""
        return self._officer(group, task.variables.get("pepId"), f"task {task.user_task_key}")

    def _officer(self, group: str, pep_id: str | None, what: str) -> str:
        """The officer of ``group`` who handles ``pep_id``'s work (drawn once per PEP)."""
        team = self.teams.get(group)
        if not team:
            raise LookupError(f"nobody in candidate group {group!r} for {what}")
        return team[int(self.draw("officer", pep_id) * len(team))]

    def _due(self, task: UserTask, today: date) -> bool:
        usual, slow = self.DELAYS.get(task.element_id, ((0,), 0))
        # drawn by what the task is about (the PEP, or the child, and when it appeared),
        # never by the engine's key: keys follow the order concurrent jobs finished in,
        # so the same seed would not give the same year
        key = (task.element_id, task.variables.get("pepId") or task.variables.get("childId"), task.created_at.isoformat())
        if self.draw("slow", *key) < self.behaviour.slow_share:
            delay = slow
        else:
            delay = usual[int(self.draw("delay", *key) * len(usual))]
        appeared = local_date(task.created_at)
        return self.working_days.working_days_between(appeared, today) >= delay

    def work(self, today: date, now: datetime, tasks: Sequence[UserTask]) -> Iterable[Completion]:
        typing: list[UserTask] = []
        # in an order of their own, not the engine's keys (see _due)
        for task in sorted(tasks, key=self._order):
            if task.element_id == TYPE_UP:
                typing.append(task)
            elif self._due(task, today) and not self.roles.waits(task):
                answers = self.roles.variables_for(task, now)
                if task.element_id == "RecordMeetingTask":
                    answers = self._spread(task, answers, today)
                yield Completion(task, self.roles.actor_for(task), answers)
        for task in sorted(typing, key=self._order):
            officer = self.officer_for(task)
            if self.typed[(officer, today)] >= self.behaviour.typing_per_day:
                continue
            self.typed[(officer, today)] += 1
            yield Completion(task, officer, self.roles.variables_for(task, now))
        for key in [k for k in self.typed if k[1] < today]:
            del self.typed[key]

    async def review_returns(self, today: date) -> int:
        """Business support's list of returned forms to review (``/reviews``): a flagged
        return no review task waits for (a young child's health visitor's form, which
        the process does not wait for; a form that came back after the meeting started)
        is decided there the working day after it came, as :class:`RolePlayer` decides
        one in its task. A return of a PEP that is final or cancelled is left on the
        list (the product takes nothing into it). Returns how many were decided."""
        app = self.app
        decided = 0
        waiting = [stored for stored in app.store.returns.pending() if stored.id not in self.settled
                   and self.working_days.working_days_between(local_date(stored.received_at), today) >= 1]
        if not waiting:
            return 0
        # one look at the task list a day, not one per return: a return no PEP takes in any
        # more stays on the list all year, and a bigger council has hundreds
        in_tasks = {task.variables.get("schoolReturnId") for task in app.engine.user_tasks(element_id=REVIEW_TASK)}
        for stored in waiting:
            if stored.id in in_tasks:
                continue  # in a task: done through the task list (work)
            pep = app.store.pep(stored.pep_id)
            if pep.status in (PepStatus.FINAL, PepStatus.CANCELLED):
                self.settled.add(stored.id)  # for good: nothing is taken into such a PEP
                continue
            answers = self.roles.review_answers(stored.id)
            group = app.store.business_support_group(app.store.child(pep.child_id).locality or "")
            officer = self._officer(group, pep.id, f"returned form {stored.id}")
            if answers["reviewDecision"] == "accept":
                await decide(app, stored.id, "accept", actor=officer)
            else:
                await decide(app, stored.id, "ask-again", actor=officer, query=QUERY_REASONS["other"])
            decided += 1
        return decided

    @staticmethod
    def _order(task: UserTask) -> tuple:
        subject = task.variables.get("pepId") or task.variables.get("childId") or ""
        return (task.created_at, str(subject), task.element_id)

    def _spread(self, task: UserTask, answers: dict, today: date) -> dict:
        """Councils spread PEP meetings over the first half of term, not all in its
        third week: each child's next meetings move 0-20 school days later (the same
        for the child all year), to a day the setting is open."""
        v = task.variables
        shift = int(self.draw("meeting-week", v.get("childId")) * 21)
        if not shift:
            return answers
        calendar = self.app.store.school_calendar_for(v.get("settingId"))
        meetings = MeetingDates(self.app.store, self.app.clock)
        place = meetings.place_for_pep(self.app.store.pep(v["pepId"]))
        dates = []
        keys = [k for k in ("nextPepDate1", "nextPepDate2") if answers.get(k)]
        for value in (answers[k] for k in keys):
            day = date.fromisoformat(value)  # the form's date fields
            moved = calendar.add_school_days(day, shift) if calendar.is_school_day(day) else day
            if calendar.term_of(moved) != calendar.term_of(day):
                moved = day
            dates.append(meetings.first_valid(place, moved).isoformat())
        return {**answers, **dict(zip(keys, dates, strict=True))}


#: returns a simulated day's schools make at the same time (threads; the document
#: work goes to the product's document worker processes)
RETURNS_AT_ONCE = 4


class CouncilSchools:
    """Designated teachers and health visitors returning the forms they were sent."""

    def __init__(self, app: App, behaviour: Behaviour, seed: int) -> None:
        self.app = app
        self.behaviour = behaviour
        self.draw = Draw(seed)
        self.queries = WorkloadQueries(app.store)
        self.returned = 0

    def profile(self, setting_id: str | None) -> str:
        """``on-time``, ``late`` (after the reminder) or ``never``."""
        if setting_id is None:
            return "on-time"  # the health visitor
        r = self.draw("school", setting_id)
        if r < self.behaviour.late_share * self.behaviour.never_share_of_late:
            return "never"
        if r < self.behaviour.late_share:
            return "late"
        return "on-time"

    def ready_on(self, pep_id: str, setting_id: str | None, sent: date, meeting: date | None) -> date | None:
        kind = self.profile(setting_id)
        if kind == "never":
            return None
        if kind == "late" and meeting is not None:
            return meeting - timedelta(days=2)  # after the reminder, just before the meeting
        return sent + timedelta(days=2 + int(self.draw("days", pep_id) * (12 if setting_id is None else 7)))

    def ready_for(self, pep: AwaitingForm, meeting: date | None) -> date | None:
        """When the setting sends this PEP's form back, or ``None`` if it does not now.
        A setting returns the form it was sent once; it sends it again only when the
        council asked again (the return was queried), a few days after the query. A
        return waiting for review, or taken in (for a young child with no setting the
        process does not wait for the form, so the PEP stays "form sent"), is not sent
        again: a setting does not post the same form every day."""
        sent = local_date(pep.form_sent_at)
        if pep.last_return_at is None or pep.last_return_at < pep.form_sent_at:
            return self.ready_on(pep.pep_id, pep.setting_id, sent, meeting)
        if pep.last_return_status == QUERIED and pep.last_decided_at is not None:
            asked = local_date(pep.last_decided_at)
            return asked + timedelta(days=1 + int(self.draw("answer", pep.pep_id, asked.isoformat()) * 5))
        return None

    async def work(self, today: date, note: Note | None) -> None:
        """Today's returns. Schools send their forms independently of one another, so
        the day's returns overlap (:data:`RETURNS_AT_ONCE` at a time): while one form is
        filled or read in the document worker, the product records another. Done one
        after another, the product sat idle through every round trip to the worker,
        about a fifth of a 50-child year. A return that fails does not stop the others;
        the first failure is raised once they are done, and any other is logged. ``note`` is called from the
        thread of the return it is about."""
        due = []
        for pep in self.queries.awaiting_form():
            meeting = local_date(pep.meeting_at) if pep.meeting_at else None
            ready = self.ready_for(pep, meeting)
            if ready is None or ready > today or (meeting is not None and today >= meeting):
                continue
            due.append(pep.pep_id)
        at_once = asyncio.Semaphore(RETURNS_AT_ONCE)

        async def one(pep_id: str) -> None:
            async with at_once:
                await asyncio.to_thread(return_school_form, self.app, pep_id, today, note)

        outcomes = await asyncio.gather(*(one(pep_id) for pep_id in due), return_exceptions=True)
        self.returned += sum(1 for outcome in outcomes if outcome is None)
        failures = [(pep_id, o) for pep_id, o in zip(due, outcomes, strict=True) if isinstance(o, BaseException)]
        for pep_id, failure in failures[1:]:  # the first is raised; the others are said, not lost
            log.error("the school's return of %s failed too", pep_id, exc_info=failure)
        if failures:
            raise failures[0][1]
