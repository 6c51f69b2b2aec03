"""The same seed gives the same year: who is slow, who types what today, in what order,
never follows the engine's keys, which depend on the order concurrent jobs finished in
(found when two runs of one seed raised escalations for different children)."""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from pepflow.calendar import WorkingDays
from pepflow.engine.views import UserTask
from pepflow.simulate import people as people_module
from pepflow.simulate.people import Behaviour, CouncilCaseworkers, Draw
from pepflow.store.workload import AwaitingForm


def _caseworkers(seed: int = 1) -> CouncilCaseworkers:
    # the decisions only: no records are read to make them
    people = object.__new__(CouncilCaseworkers)
    people.behaviour = Behaviour(slow_share=0.3)
    people.draw = Draw(seed)
    people.working_days = WorkingDays()
    return people


def _task(key: int, element: str, pep: str, created: datetime) -> UserTask:
    return UserTask(
        user_task_key=key, process_instance_key=key + 1, bpmn_process_id="pep", element_id=element,
        name=None, form_id=None, assignee=None, candidate_groups=[], candidate_users=[], due_date=None,
        follow_up_date=None, state="CREATED", created_at=created, completed_at=None, completed_by=None,
        variables={"pepId": pep, "childId": pep[4:11]},
    )


def _tasks() -> list[UserTask]:
    start = datetime(2026, 9, 7, 8, tzinfo=UTC)
    return [
        _task(1000 + i, element, f"PEP-C-{i:05d}-2026-AUT", start + timedelta(hours=i % 3))
        for i in range(60)
        for element in ("CompletePepFormTask", "RecordMeetingTask")
    ]


def test_who_is_slow_does_not_follow_the_engines_keys():
    people = _caseworkers()
    tasks = _tasks()
    later = date(2026, 9, 14)
    decisions = [people._due(t, later) for t in tasks]
    renumbered = [people._due(replace(t, user_task_key=t.user_task_key * 7 + 3), later) for t in tasks]
    assert decisions == renumbered
    assert True in decisions and False in decisions  # the draws do decide something


def test_the_order_of_the_days_work_does_not_follow_the_engines_keys():
    people = _caseworkers()
    tasks = _tasks()
    shuffled = [replace(t, user_task_key=k) for t, k in zip(tasks, random.Random(5).sample(range(10**6), len(tasks)), strict=True)]
    random.Random(7).shuffle(shuffled)
    def order(ts):
        return [(t.element_id, t.variables["pepId"]) for t in sorted(ts, key=people._order)]
    assert order(shuffled) == order(tasks)


def test_a_days_school_returns_overlap_and_one_that_fails_stops_none_of_the_others(monkeypatch):
    """Schools send their forms back independently: the day's returns run side by side
    (at most RETURNS_AT_ONCE), each is made once, and a return that fails is raised
    after the others are in, not instead of them."""
    sent = datetime(2026, 9, 14, 9, tzinfo=UTC)
    waiting = [AwaitingForm(f"PEP-C-{i:05d}-2026-AUT", f"C-{i:05d}", None, sent, None) for i in range(9)]
    schools = object.__new__(people_module.CouncilSchools)
    schools.app, schools.behaviour, schools.draw, schools.returned = object(), Behaviour(), Draw(1), 0
    schools.queries = type("Q", (), {"awaiting_form": staticmethod(lambda: waiting)})()
    lock, running, seen = threading.Lock(), [0], {"most": 0, "peps": []}
    both_in = threading.Barrier(2, timeout=5)

    def fake_return(app, pep_id, today, note):
        with lock:
            running[0] += 1
            seen["most"] = max(seen["most"], running[0])
            seen["peps"].append(pep_id)
        try:
            if pep_id.endswith(("00000-2026-AUT", "00001-2026-AUT")):
                both_in.wait()  # the first two are in at the same time, or this times out
            if pep_id.endswith("00004-2026-AUT"):
                raise RuntimeError("the form could not be read")
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(people_module, "return_school_form", fake_return)
    with pytest.raises(RuntimeError, match="could not be read"):
        asyncio.run(schools.work(date(2026, 12, 1), None))
    assert sorted(seen["peps"]) == [p.pep_id for p in waiting]  # every return made, once
    assert 2 <= seen["most"] <= people_module.RETURNS_AT_ONCE
    assert schools.returned == 8


def test_a_setting_returns_its_form_once_and_again_only_when_asked():
    """A simulated setting returned the same form every day while its PEP stayed "form
    sent": a return waiting for review, and every return for a young child with no
    setting (the process does not wait for that form). 615 returns for 346 forms in a
    100-child year. A setting returns the form it was sent once, and again only after
    the council queried it, a few days later."""
    schools = object.__new__(people_module.CouncilSchools)
    schools.behaviour, schools.draw = Behaviour(late_share=0.0), Draw(1)
    sent = datetime(2026, 9, 14, 9, tzinfo=UTC)
    meeting = date(2026, 10, 5)

    def waiting(status=None, returned=None, decided=None, setting="ES-0001"):
        return AwaitingForm("PEP-C-00001-2026-AUT", "C-00001", setting, sent, None, status, returned, decided)

    first = schools.ready_for(waiting(), meeting)
    assert first is not None and date(2026, 9, 16) <= first <= date(2026, 9, 23)
    returned = datetime(2026, 9, 18, 7, tzinfo=UTC)
    for status in ("pending", "accepted", "withdrawn"):
        assert schools.ready_for(waiting(status, returned), meeting) is None
    assert schools.ready_for(waiting("accepted", returned, setting=None), meeting) is None  # the health visitor
    asked = datetime(2026, 9, 21, 10, tzinfo=UTC)
    again = schools.ready_for(waiting("queried", returned, asked), meeting)
    assert again is not None and date(2026, 9, 22) <= again <= date(2026, 9, 26)
    # a form sent again after an earlier return (a new term's, a re-sent form) is returned once more
    earlier = datetime(2026, 7, 1, 7, tzinfo=UTC)
    assert schools.ready_for(waiting("accepted", earlier), meeting) == first
