"""Fictional caseworkers who complete each user task as their role would.

Used by ``pep demo`` and the process tests to run a simulated academic year: the
social worker arranges meetings and records them, business support types PEPs up,
the social worker finalises them. The values are what a person would enter in the
task's Camunda form, and they go through the engine's form check like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .casework import LONDON, at_local, iso, local_date, parse_instant
from .engine.views import UserTask
from .meetings import MeetingDates
from .store import RecordsStore
from .store.allocations import owner_on
from .store.quality import QualityRecords
from .domain.enums import StaffRole
from .quality import RATE_TASK, REVIEWER_GROUP


@dataclass(frozen=True)
class _At:
    """A clock standing still at the moment a person fills in the form."""

    instant: datetime

    def now(self) -> datetime:
        return self.instant


@dataclass(frozen=True)
class Completion:
    user_task_key: int
    element_id: str
    actor: str
    variables: dict[str, Any]


class RolePlayer:
    """Decides what each role enters in each form."""

    def __init__(
        self, store: RecordsStore, *, return_pep_at_first_check: bool = True,
        send_back: Callable[[str], bool] | None = None,
    ) -> None:
        """``send_back(pep_id)``: whether the worker sends this PEP back at its first
        check (default: every PEP when ``return_pep_at_first_check``)."""
        self.store = store
        self.return_pep_at_first_check = return_pep_at_first_check
        self.send_back = send_back
        self._returned: set[str] = set()

    def waits(self, task: UserTask) -> bool:
        """Whether the person leaves ``task`` for now, as the task page tells them to:
        the PEP is not finalised while a form returned for it waits for business
        support's review (the product would refuse it)."""
        if task.element_id != "CheckAndFinalisePepTask":
            return False
        return bool(self.store.returns.pending_for(task.variables.get("pepId")))

    def actor_for(self, task: UserTask) -> str:
        """The staff id of who completes ``task``: its assignee (a login), else a member
        of its first candidate group."""
        if task.assignee:
            staff = self.store.staff_by_login(task.assignee)
            if staff is None:
                raise LookupError(f"nobody has the login {task.assignee!r} (task {task.user_task_key})")
            return staff.id
        group = task.candidate_groups[0] if task.candidate_groups else None
        for staff in self.store.all_staff():
            if staff.candidate_group == group:
                return staff.id
        if group == REVIEWER_GROUP:  # the Virtual School's quality reviewers: its staff
            for staff in self.store.staff_with_role(StaffRole.VIRTUAL_SCHOOL):
                return staff.id
        raise LookupError(f"nobody in candidate group {group!r} for task {task.user_task_key}")

    def variables_for(self, task: UserTask, now: datetime) -> dict[str, Any]:
        v = task.variables
        pep_id = v.get("pepId")
        if task.element_id == "ArrangeInitialMeetingTask":
            # a week after entry, or tomorrow if that has passed; 10:00 at the setting,
            # on the first day it is open (a school day, or a working day with no setting)
            entered = date.fromisoformat(v["enteredCareOn"])
            day = max(entered + timedelta(days=7), local_date(now) + timedelta(days=1))
            meetings = MeetingDates(self.store, _At(now))
            day = meetings.first_valid(meetings.place_for_pep(self.store.pep(pep_id)), day)
            return {
                "meetingAt": iso(at_local(day, 10)),
                "venueCode": "education-setting" if v.get("settingId") else "carers-home",
                "inviteeIds": self._invitees(v, now),
            }
        if task.element_id == "CompletePepFormTask":
            # the development box shows only for a young child with no setting
            if v.get("variant") == "early-years-no-setting":
                return {"swSectionComplete": True, "developmentInfoRecorded": True}
            return {"swSectionComplete": True}
        if task.element_id == "RecordMeetingTask":
            dates = self._next_dates(v, now)
            # the form's two date fields (its expression field computes the list)
            answer = {"attendeeIds": self._invitees(v, now), "nextPepDate1": dates[0]}
            if len(dates) > 1:
                answer["nextPepDate2"] = dates[1]
            return answer
        if task.element_id == "TypeUpPepTask":
            return {"typedUp": True}
        if task.element_id == "CheckAndFinalisePepTask":
            first_check = pep_id not in self._returned
            wanted = self.send_back(pep_id) if self.send_back is not None else self.return_pep_at_first_check
            if wanted and first_check:
                self._returned.add(pep_id)
                return {"pepApproved": False, "returnReasonCode": "targets-not-smart"}
            return {"pepApproved": True}
        if task.element_id == RATE_TASK:
            return self._rate_quality(task)
        if task.element_id == "ReviewReturnedFormTask":
            return self._review(v)
        raise LookupError(f"no role knows how to complete {task.element_id}")

    def _review(self, v: dict[str, Any]) -> dict[str, Any]:
        return self.review_answers(int(v["schoolReturnId"]))

    def review_answers(self, return_id: int) -> dict[str, Any]:
        """Business support reviews a returned form as an officer would: a form that
        says something is accepted (what was flagged is kept verbatim in the records
        for the meeting to settle); a form with no answer at all goes back to the
        school with a question."""
        stored = self.store.returns.get(return_id)
        school = stored.values.get("school", {})
        if any(value not in (None, "", [], {}) for value in school.values()):
            return {"reviewDecision": "accept"}
        return {"reviewDecision": "ask-again", "queryReasonCode": "other"}

    def _rate_quality(self, task: UserTask) -> dict[str, Any]:
        """The Virtual School rates the PEP on its quality page (the records), then gives
        the same overall rating in the task: green, or amber for one PEP in three (its
        targets need dates). Red, and the improvement it asks for, are played by
        tests/process/test_quality_cycle.py."""
        records = QualityRecords(self.store)
        pep_id = task.variables["pepId"]
        amber = sum(map(ord, pep_id)) % 3 == 0
        ratings = {c.code: ("green", None) for c in records.criteria()}
        if amber and "smart-targets" in ratings:
            ratings["smart-targets"] = ("amber", "Give each target a date by which it is met")
        overall = "amber" if amber else "green"
        review = records.review(int(task.variables["qualityReviewId"]))
        if review.rating is None:
            records.rate(review.id, ratings, overall, None, actor=self.actor_for(task))
        return {"qualityRating": records.review(review.id).rating.value}

    def _invitees(self, v: dict[str, Any], now: datetime) -> list[str]:
        child = self.store.child(v["childId"])
        ids = []
        if v.get("settingId"):
            ids.append(v["settingId"])  # the designated teacher
        ids += [c.id for c in self.store.contacts_for(child.id) if c.email and (c.receives_pep or c.id == child.carer_contact_id)]
        owner = owner_on(self.store, child.id, local_date(now))
        if owner.staff_id:
            ids.append(owner.staff_id)
        offered = v.get("contactOptions")
        if isinstance(offered, list):  # a person picks from what the form offers
            values = {o.get("value") for o in offered if isinstance(o, dict)}
            ids = [i for i in ids if i in values]
        return ids

    def _next_dates(self, v: dict[str, Any], now: datetime) -> list[str]:
        """The remaining PEPs of the year (summer: the autumn one), in the third school
        week of each term, as a social worker and designated teacher would agree."""
        calendar = self.store.school_calendar_for(v.get("settingId"))
        meeting = parse_instant(v["meetingAt"]) if v.get("meetingAt") else now
        meetings = MeetingDates(self.store, _At(now))
        place = meetings.place_for_pep(self.store.pep(v["pepId"]))
        dates = []
        for _year, term in calendar.term_dates_for_meeting(local_date(meeting)):
            day = calendar.add_school_days(term.starts_on, 15)
            if day <= local_date(now):  # recorded late: a date still ahead, a fortnight on
                day = meetings.first_valid(place, local_date(now) + timedelta(days=14))
            dates.append(day.isoformat())  # a date field
        return dates


__all__ = ["Completion", "RolePlayer", "LONDON"]
