"""Council events from the web (issue 14, point 2): the same checks as the CLI
(pepflow.events.CouncilEvents), refusals in words against the field, and a meeting
moved / not held moves "Record PEP meeting" to the new time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from pepflow.casework import LONDON

from .conftest import drive_until


def test_a_child_comes_into_care_from_the_web_with_the_clis_checks(world, session_for):
    sw = session_for("st-0001")
    empty = sw.post("/api/v1/children/C-0001/events/looked-after", json={})
    assert empty.status_code == 422
    assert set(empty.json()["detail"]["fields"]) == {"enteredOn", "kind"}
    bad = sw.post("/api/v1/children/C-0001/events/looked-after", json={"enteredOn": "31/11/2026", "kind": "planned"})
    assert "not a real date" in bad.json()["detail"]["fields"]["enteredOn"]
    future = sw.post("/api/v1/children/C-0001/events/looked-after", json={"enteredOn": "20/09/2026", "kind": "planned"})
    assert "in the future" in future.json()["detail"]["fields"]["enteredOn"]
    assert world.store.care_episodes("C-0001") == [] or all(e.entered_care_on.isoformat() != "2026-09-20"
                                                              for e in world.store.care_episodes("C-0001"))
    ok = sw.post("/api/v1/children/C-0001/events/looked-after", json={"enteredOn": "14/09/2026", "kind": "emergency"})
    assert ok.status_code == 200, ok.text
    assert "emergency entry" in ok.json()["summary"]
    world.idle()
    assert [t.element_id for t in world.engine.user_tasks() if t.variables.get("childId") == "C-0001"] == [
        "ArrangeInitialMeetingTask"]
    again = sw.post("/api/v1/children/C-0001/events/looked-after", json={"enteredOn": "14/09/2026", "kind": "emergency"})
    assert "already recorded" in again.json()["detail"]["fields"]["enteredOn"]
    # someone who does not see the child cannot record for them
    assert session_for("st-0002").post("/api/v1/children/C-0001/events/looked-after",
                                       json={"enteredOn": "14/09/2026", "kind": "planned"}).status_code == 403


def test_left_care_and_change_of_school_from_the_web(world, session_for):
    world.child_looked_after("C-0001", "2026-09-14")
    bs = session_for("st-0011")  # north business support
    same = bs.post("/api/v1/children/C-0001/events/setting-changed", json={"settingId": "ES-0001", "changedOn": "14/09/2026"})
    assert same.status_code == 422 and "settingId" in same.json()["detail"]["fields"]
    unknown = bs.post("/api/v1/children/C-0001/events/setting-changed", json={"settingId": "ES-9999", "changedOn": "14/09/2026"})
    assert "settingId" in unknown.json()["detail"]["fields"]
    moved = bs.post("/api/v1/children/C-0001/events/setting-changed", json={"settingId": "ES-0002", "changedOn": "14/09/2026"})
    assert moved.status_code == 200, moved.text
    no_reason = bs.post("/api/v1/children/C-0001/events/left-care", json={"leftOn": "14/09/2026"})
    assert no_reason.json()["detail"]["fields"] == {"reason": "Enter why they left care (for example, returned home)"}
    left = bs.post("/api/v1/children/C-0001/events/left-care", json={"leftOn": "14/09/2026", "reason": "returned home"})
    assert left.status_code == 200, left.text
    world.idle()
    assert not [t for t in world.engine.user_tasks() if t.variables.get("childId") == "C-0001"]


def test_a_meeting_moved_or_not_held_moves_record_pep_meeting_to_the_new_time(world, session_for):
    world.child_looked_after("C-0001", "2026-09-14")
    drive_until(world, "RecordMeetingTask")  # the initial meeting happened: the task is open
    [task] = [t for t in world.engine.user_tasks() if t.variables["childId"] == "C-0001"]
    pep_id = task.variables["pepId"]
    sw = session_for("st-0001")
    path = f"/api/v1/peps/{pep_id}/events/meeting-changed"
    now = world.clock.now().astimezone(LONDON)
    empty = sw.post(path, json={})
    assert set(empty.json()["detail"]["fields"]) == {"change", "newDate", "newTime", "reason"}
    snapped = sw.post(path, json={"change": "not-held", "newDate": "31/11/2026", "newTime": "25:00", "reason": "x"})
    fields = snapped.json()["detail"]["fields"]
    assert "not a real date" in fields["newDate"] and "not a time of day" in fields["newTime"]
    # a school day a fortnight ahead, 14:05 (never snapped to a quarter hour)
    from pepflow.calendar import WorkingDays

    day = now.date() + timedelta(days=14)
    while not WorkingDays().is_working_day(day):
        day += timedelta(days=1)
    ok = sw.post(path, json={"change": "not-held", "newDate": day.strftime("%d/%m/%Y"), "newTime": "14:05",
                             "reason": "the carer was ill"})
    assert ok.status_code == 200, ok.text
    world.idle()
    assert not [t for t in world.engine.user_tasks() if t.variables.get("pepId") == pep_id
                and t.element_id == "RecordMeetingTask"]
    # the rearranged meeting is still to come: it cannot be "not held"
    early = sw.post(path, json={"change": "not-held", "newDate": (day + timedelta(days=7)).strftime("%d/%m/%Y"),
                                "newTime": "10:00", "reason": "x"})
    assert "not happened yet" in early.json()["detail"]["fields"]["change"]
    pep = world.store.pep(pep_id)
    assert pep.meeting_at.astimezone(LONDON).strftime("%d/%m/%Y %H:%M") == day.strftime("%d/%m/%Y") + " 14:05"
    event = world.store.events.for_child("C-0001", "meeting-changed")[-1]
    assert event.details["reason"] == "the carer was ill" and event.details["change"] == "not-held"
    # the new time comes: Record PEP meeting again, due from the new meeting
    target = pep.meeting_at + timedelta(minutes=1)
    asyncio.run(world.runtime.advance(target - world.clock.now()))
    world.idle()
    [again] = [t for t in world.engine.user_tasks() if t.variables.get("pepId") == pep_id]
    assert again.element_id == "RecordMeetingTask" and again.due_date > pep.meeting_at
