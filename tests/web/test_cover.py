"""Reassignment and cover from the web (issue 14, point 1): a task given to a named
colleague, an absence whose cover gets the worker's tasks, a caseload moved; each with
a reason, audited, refused in words, and scoped on the server."""

from __future__ import annotations

import asyncio
from datetime import timedelta


def _task(world, child="C-0001"):
    [task] = [t for t in world.engine.user_tasks() if t.variables["childId"] == child]
    return task


def test_pep_coordinator_gives_an_overdue_task_to_a_colleague_and_it_stays_there(world, session_for):
    world.child_looked_after("C-0001", "2026-09-14")
    task = _task(world)
    coordinator = session_for("st-0020")
    refused = coordinator.post(f"/api/v1/user-tasks/{task.user_task_key}/reassignment", json={"staffId": "ST-0002"})
    assert refused.status_code == 422
    assert refused.json()["detail"]["fields"] == {"reason": "Enter the reason"}
    not_caseworker = coordinator.post(f"/api/v1/user-tasks/{task.user_task_key}/reassignment",
                                      json={"staffId": "ST-0011", "reason": "cover"})
    assert "not a caseworker" in not_caseworker.json()["detail"]["fields"]["staffId"]
    given = coordinator.post(f"/api/v1/user-tasks/{task.user_task_key}/reassignment",
                             json={"staffId": "ST-0002", "reason": "Amira is on a course all week"})
    assert given.status_code == 200, given.text
    assert world.engine.user_task(task.user_task_key).assignee == "bartholomew.nettleby@council.example.org"
    entry = [a for a in world.store.audit_entries("pep", task.variables["pepId"]) if a.action == "task-given-to"][-1]
    assert entry.actor_id == "ST-0020" and entry.diff["reason"] == [None, "Amira is on a course all week"]
    # the colleague sees the child and works the task; the allocated worker no longer does
    colleague, allocated = session_for("st-0002"), session_for("st-0001")
    assert colleague.get(f"/api/v1/user-tasks/{task.user_task_key}").json()["canComplete"]
    assert colleague.get("/api/v1/children/C-0001").status_code == 200
    assert not allocated.get(f"/api/v1/user-tasks/{task.user_task_key}").json()["canComplete"]
    # the daily check of allocations leaves it with the colleague
    asyncio.run(world.runtime.advance(timedelta(days=1)))
    assert world.engine.user_task(task.user_task_key).assignee == "bartholomew.nettleby@council.example.org"
    # given back: it follows the allocation again
    back = coordinator.post(f"/api/v1/user-tasks/{task.user_task_key}/reassignment", json={"staffId": None, "reason": "back"})
    assert back.status_code == 200, back.text
    assert world.engine.user_task(task.user_task_key).assignee == "amira.quillfeather@council.example.org"


def test_a_team_manager_gives_only_their_own_localitys_tasks(world, session_for):
    world.child_looked_after("C-0001", "2026-09-14")  # north
    task = _task(world)
    south = session_for("st-0041")
    assert south.post(f"/api/v1/user-tasks/{task.user_task_key}/reassignment",
                      json={"staffId": "ST-0002", "reason": "x"}).status_code == 403
    for worker in ("st-0001", "st-0011", "st-0021"):
        assert session_for(worker).post(f"/api/v1/user-tasks/{task.user_task_key}/reassignment",
                                         json={"staffId": "ST-0002", "reason": "x"}).status_code == 403


def test_an_absence_routes_the_workers_tasks_to_the_cover_and_back(world, session_for):
    world.child_looked_after("C-0001", "2026-09-14")
    task = _task(world)
    tm = session_for("st-0040")
    bad = tm.post("/api/v1/staff/ST-0001/absences",
                  json={"coverStaffId": "ST-0002", "startsOn": "31/11/2026", "endsOn": "", "reason": ""})
    assert bad.status_code == 422
    fields = bad.json()["detail"]["fields"]
    assert "not a real date" in fields["startsOn"] and fields["endsOn"] == "Enter the last day away"
    assert fields["reason"] == "Enter the reason"
    assert world.store.cover.absences() == []
    wrong_role = tm.post("/api/v1/staff/ST-0001/absences",
                         json={"coverStaffId": "ST-0011", "startsOn": "15/09/2026", "endsOn": "18/09/2026", "reason": "leave"})
    assert "does not hold" in wrong_role.json()["detail"]["fields"]["coverStaffId"]
    # a south team manager does not manage a north worker
    assert session_for("st-0041").post("/api/v1/staff/ST-0001/absences", json={
        "coverStaffId": "ST-0002", "startsOn": "15/09/2026", "endsOn": "18/09/2026", "reason": "leave"}).status_code == 403
    ok = tm.post("/api/v1/staff/ST-0001/absences",
                 json={"coverStaffId": "ST-0002", "startsOn": "15/09/2026", "endsOn": "16/09/2026", "reason": "annual leave"})
    assert ok.status_code == 201, ok.text
    assert ok.json()["movedTasks"] == 0  # starts tomorrow: nothing moves today
    assert world.engine.user_task(task.user_task_key).assignee == "amira.quillfeather@council.example.org"
    asyncio.run(world.runtime.advance(timedelta(days=1)))  # 15 September: away
    assert world.engine.user_task(task.user_task_key).assignee == "bartholomew.nettleby@council.example.org"
    cover = session_for("st-0002")
    assert cover.get("/api/v1/children/C-0001").status_code == 200
    assert cover.get(f"/api/v1/user-tasks/{task.user_task_key}").json()["canComplete"]
    assert world.store.pep(task.variables["pepId"]).owner_staff_id == "ST-0001"  # still the child's worker
    asyncio.run(world.runtime.advance(timedelta(days=2)))  # 17 September: back
    assert world.engine.user_task(task.user_task_key).assignee == "amira.quillfeather@council.example.org"
    assert cover.get("/api/v1/children/C-0001").status_code == 403
    assert any(a.action == "absence-added" for a in world.store.audit_entries("staff", "ST-0001"))


def test_withdrawing_an_absence_brings_the_tasks_back_at_once(world, session_for):
    world.child_looked_after("C-0001", "2026-09-14")
    task = _task(world)
    tm = session_for("st-0040")
    absence = tm.post("/api/v1/staff/ST-0001/absences", json={
        "coverStaffId": "ST-0002", "startsOn": "14/09/2026", "endsOn": "2026-09-30", "reason": "sick"}).json()
    assert absence["movedTasks"] == 1
    assert world.engine.user_task(task.user_task_key).assignee == "bartholomew.nettleby@council.example.org"
    assert tm.post(f"/api/v1/absences/{absence['absenceId']}/withdrawal", json={}).json()["detail"]["fields"] == {
        "reason": "Enter the reason"}
    done = tm.post(f"/api/v1/absences/{absence['absenceId']}/withdrawal", json={"reason": "back early"})
    assert done.json()["movedTasks"] == 1
    assert world.engine.user_task(task.user_task_key).assignee == "amira.quillfeather@council.example.org"


def test_a_caseload_moves_all_or_nothing_with_its_open_tasks(world, session_for):
    world.child_looked_after("C-0001", "2026-09-14")
    task = _task(world)
    tm = session_for("st-0040")
    past = tm.post("/api/v1/staff/ST-0001/caseload-reassignment",
                   json={"toStaffId": "ST-0002", "startsOn": "01/09/2026", "reason": "left"})
    assert "past" in past.json()["detail"]["fields"]["startsOn"]
    wrong = tm.post("/api/v1/staff/ST-0001/caseload-reassignment", json={"toStaffId": "ST-0003", "reason": "left"})
    assert "does not hold" in wrong.json()["detail"]["fields"]["toStaffId"]
    assert world.store.allocations.on("C-0001", "social-worker", world.access_today()
                                      if hasattr(world, "access_today") else world.backend.access.today()).staff_id == "ST-0001"
    moved = tm.post("/api/v1/staff/ST-0001/caseload-reassignment", json={"toStaffId": "ST-0002", "reason": "Amira left"})
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert "C-0001" in body["children"] and body["movedTasks"] == 1
    # only the north children ST-0001 has: all of them now with ST-0002
    today = world.backend.access.today()
    assert world.store.allocations.children_of("ST-0001", today) == set()
    assert world.engine.user_task(task.user_task_key).assignee == "bartholomew.nettleby@council.example.org"
    entry = [a for a in world.store.audit_entries("child", "C-0001") if a.action == "allocate"][-1]
    assert "Amira left" in entry.diff["reason"][1]


def test_the_cover_page_lists_the_team_and_is_only_for_managers(world, session_for):
    tm = session_for("st-0040")
    page = tm.get("/cover")
    assert page.status_code == 200 and "Amira Quillfeather" in page.text and "Bartholomew" not in page.text.split("Absences")[0]
    assert session_for("st-0020").get("/cover").status_code == 200
    assert session_for("st-0001").get("/cover").status_code == 403
