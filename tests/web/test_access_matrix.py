"""Every route that touches a child's records or tasks, for every kind of person, in
every state a change of allocation produces: a team manager reallocates, ends the
allocation (nobody of the role: the team manager's group), an import allocates again,
and a child turns 16 (the leaving care worker allocated from the birthday takes over).

The routes come from the app (a route with a child, PEP, document or task in its path
needs a scope rule below, or this test fails); what each person may do comes from an
oracle written here from the rules in ``pepflow/web/access.py``'s docstring and this
test's own table of who is allocated - never from the app's own answers.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest

from pepflow.importer import import_csv

from .conftest import PASSWORD, Session, drive_until
from .test_permissions import app_routes, flat_routes

# route name -> what it needs of the person, beyond their role
SCOPE = {
    "get_child": "see-child", "child_page": "see-child", "get_allocations": "see-child",
    "get_pep": "see-child", "pep_page": "see-child", "download_document": "see-child",
    "upload_school_form": "upload", "allocate": "manage-child", "put_meeting_venue": "pep-write",
    "put_return_comments": "pep-write",
    # the Virtual School's quality review and Pupil Premium Plus (pepflow/web/quality_pages.py)
    "pep_quality_page": "see-child", "rate_pep_quality": "quality-rate", "improve_pep": "pep-write",
    "request_ppp": "upload",
    "get_user_task": "see-task", "task_page": "see-task", "get_user_task_form": "see-task",
    "get_draft": "work-task", "save_draft": "work-task", "delete_draft": "work-task",
    "claim_user_task": "work-task", "complete_user_task": "complete", "unclaim_user_task": "unclaim",
    "give_task": "reassign",
    "record_looked_after": "record-event", "record_left_care": "record-event",
    "record_setting_changed": "record-event", "record_meeting_changed": "record-event",
}
SCOPED_PARAMS = {"child_id", "pep_id", "document_id", "user_task_key"}


@dataclass(frozen=True)
class Person:
    username: str
    staff_id: str
    roles: frozenset[str]
    team: str | None
    group: str | None
    login: str

    @property
    def caseworker(self) -> bool:
        return bool(self.roles & {"social-worker", "leaving-care-worker", "personal-adviser"})

    @property
    def reads_all(self) -> bool:
        return bool(self.roles & {"pep-coordinator", "virtual-school"})

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))


def _person(store, username, staff_id):
    staff = store.staff(staff_id)
    return Person(username, staff_id, frozenset(r.value for r in staff.roles), staff.team, staff.candidate_group,
                  staff.login)


LOCALITY = {"C-0001": "north", "C-0101": "north"}
TM_GROUP = {"north": "team-managers-north"}


class Oracle:
    """Who may do what, from this test's own table of allocations."""

    def __init__(self) -> None:
        # child -> role -> staff id (today); C-0101 turns 16 on 20 October 2026
        self.allocated = {"C-0001": {"social-worker": "ST-0001"},
                          "C-0101": {"social-worker": "ST-0001"}}
        self.needed = {"C-0001": "social-worker", "C-0101": "social-worker"}

    def owner(self, child):
        return self.allocated[child].get(self.needed[child])

    def sees_child(self, p: Person, child) -> bool:
        if p.reads_all:
            return True
        if p.caseworker and p.staff_id in self.allocated[child].values():
            return True
        return p.has("business-support", "team-manager") and p.team == LOCALITY[child]

    def sees_task(self, p: Person, task) -> bool:
        child = task["child"]
        if p.reads_all:
            return True
        if task["owner_task"]:
            return p.staff_id == self.owner(child) or (p.has("team-manager") and p.team == LOCALITY[child])
        return p.group in task["groups"] and p.team == LOCALITY[child]

    def works_task(self, p: Person, task) -> bool:
        if not p.has("social-worker", "leaving-care-worker", "personal-adviser", "business-support", "team-manager"):
            return False
        child = task["child"]
        if task["owner_task"]:
            owner = self.owner(child)
            if owner is not None:
                return p.staff_id == owner
            return p.group == TM_GROUP[LOCALITY[child]]
        return p.group in task["groups"] and p.team == LOCALITY[child] and task["assignee"] in (None, p.login)

    def allowed(self, scope: str, p: Person, target) -> bool:
        if scope == "see-child":
            return p.has("social-worker", "leaving-care-worker", "personal-adviser", "business-support",
                         "team-manager", "pep-coordinator", "virtual-school") and self.sees_child(p, target["child"])
        if scope == "upload":
            return p.has("social-worker", "leaving-care-worker", "personal-adviser", "business-support") \
                and self.sees_child(p, target["child"])
        if scope == "quality-rate":  # the Virtual School rates every PEP (it reads all)
            return p.has("virtual-school")
        if scope == "manage-child":
            return p.has("team-manager") and p.team == LOCALITY[target["child"]]
        if scope == "pep-write":
            return (p.has("social-worker", "leaving-care-worker", "personal-adviser") and p.staff_id == self.owner(target["child"])) \
                or (p.has("team-manager") and p.team == LOCALITY[target["child"]])
        if scope == "see-task":
            return p.has("social-worker", "leaving-care-worker", "personal-adviser", "business-support",
                         "team-manager", "pep-coordinator", "virtual-school") and self.sees_task(p, target)
        if scope == "work-task":
            return self.sees_task(p, target) and self.works_task(p, target)
        if scope == "complete":  # a team task is claimed first; an owner task is the owner's
            return self.sees_task(p, target) and self.works_task(p, target) \
                and (target["owner_task"] or target["assignee"] == p.login)
        if scope == "record-event":  # empty body: refused (422) for the field once the person may record it
            return p.has("social-worker", "leaving-care-worker", "personal-adviser", "business-support",
                         "team-manager", "pep-coordinator") and self.sees_child(p, target["child"])
        if scope == "reassign":  # give a task they see to a colleague: the PEP co-ordinator, the locality's team manager
            return self.sees_task(p, target) and (
                p.has("pep-coordinator") or (p.has("team-manager") and p.team == LOCALITY[target["child"]]))
        if scope == "unclaim":
            return self.sees_task(p, target) and self.works_task(p, target) and target["assignee"] == p.login \
                and bool(target["groups"])
        raise AssertionError(scope)


def _body(name):
    if name == "allocate":  # a staff member who does not exist: the call reaches the check, changes nothing
        return {"role": "social-worker", "staffId": "ST-9999"}
    if name == "put_meeting_venue":
        return {"details": "Meeting room 2"}
    if name == "put_return_comments":
        return {"text": "Target 2 needs a date"}
    if name == "complete_user_task":
        return {"variables": {}}  # refused by the form check (422) once the person may work it
    if name == "give_task":  # a colleague who does not exist: refused (422) once the person may give it
        return {"staffId": "ST-9999", "reason": "cover"}
    if name == "save_draft":
        return {"variables": {}}
    return {}


def _request(s: Session, method, path, name):
    headers = {"X-CSRF-Token": s.csrf}
    if name == "upload_school_form":
        return s.client.request(method, path, headers=headers, files={"file": ("x.docx", b"not a form")})
    body = _body(name) if method in ("POST", "PUT") else None
    return s.client.request(method, path, headers=headers, json=body, follow_redirects=False)


@pytest.fixture
def scene(world):
    """Two children in care in the north: C-0001 (social worker ST-0001) at the initial
    meeting and at a team task, and C-0101 who turns 16 on 20 October 2026 with a
    leaving care worker (ST-0003) allocated from that day."""
    store = world.store
    store.save_child("C-0101", "Alex", "Birthdayson", date(2010, 10, 20), locality="north", actor="test")
    store.enrol("C-0101", "ES-0002", date(2022, 9, 5), actor="test")
    store.allocations.allocate("C-0101", "ST-0001", "social-worker", starts_on=date(2026, 9, 1), actor="test")
    store.allocations.allocate("C-0101", "ST-0003", "leaving-care-worker", starts_on=date(2026, 10, 20), actor="test")
    world.child_looked_after("C-0101", "2026-09-14")
    world.child_looked_after("C-0001", "2026-09-14")
    world.accounts.add("ops-only", password=PASSWORD, extra_roles=("operator",))
    world.accounts.add("admin-only", password=PASSWORD, extra_roles=("administrator",))
    people = [_person(store, u, s) for u, s in (
        ("st-0001", "ST-0001"), ("st-0002", "ST-0002"), ("st-0003", "ST-0003"), ("st-0004", "ST-0004"),
        ("st-0011", "ST-0011"), ("st-0013", "ST-0013"), ("st-0040", "ST-0040"), ("st-0041", "ST-0041"),
        ("st-0020", "ST-0020"), ("st-0021", "ST-0021"))]
    people += [Person("ops-only", "user:ops-only", frozenset({"operator"}), None, None, ""),
               Person("admin-only", "user:admin-only", frozenset({"administrator"}), None, None, "")]
    sessions = {p.username: Session(world.app, p.username) for p in people}
    yield world, people, sessions
    for s in sessions.values():
        s.close()


def _targets(world):
    """The resources each scoped route is called on, for both children."""
    targets = []
    owner_elements = {"ArrangeInitialMeetingTask", "CompletePepFormTask", "RecordMeetingTask", "CheckAndFinalisePepTask"}
    for task in world.engine.user_tasks():
        child = task.variables.get("childId")
        targets.append({"kind": "task", "child": child, "user_task_key": str(task.user_task_key),
                        "owner_task": task.element_id in owner_elements, "groups": list(task.candidate_groups),
                        "assignee": task.assignee, "pep_id": task.variables.get("pepId")})
    for child in ("C-0001", "C-0101"):
        pep = world.store.current_pep(child)
        docs = world.store.documents(pep.id)
        targets.append({"kind": "child", "child": child, "child_id": child, "pep_id": pep.id,
                        "document_id": str(docs[0].id) if docs else "1"})
    return targets


def _check_everything(world, people, sessions, oracle, label):
    routes = [(n, m, p) for n, m, p in _raw_routes(world.app) if set(re.findall(r"{(\w+)}", p)) & SCOPED_PARAMS]
    missing = {n for n, _m, _p in routes} - SCOPE.keys()
    assert not missing, f"routes with a child, PEP, document or task in their path need a scope rule: {missing}"
    checked = 0
    failures = []
    targets = _targets(world)
    for name, method, template in sorted(routes, key=lambda r: r[0] in ("claim_user_task", "delete_draft")):
        params = set(re.findall(r"{(\w+)}", template))
        for target in targets:
            if ("user_task_key" in params) != (target["kind"] == "task"):
                continue
            path = re.sub(r"{(\w+)}", lambda m: str(target[m.group(1)]), template)
            for person in people:
                if name == "claim_user_task" and target["assignee"]:
                    continue  # claiming an assigned task is refused for state, not scope
                response = _request(sessions[person.username], method, path, name)
                expected = oracle.allowed(SCOPE[name], person, target)
                denied = response.status_code == 403
                if response.status_code >= 500 or denied == expected:
                    failures.append(f"{label}: {person.username} {method} {path}: {response.status_code} "
                                    f"(expected {'allowed' if expected else 'denied'}) {response.text[:160]}")
                checked += 1
                if name == "claim_user_task" and response.status_code == 200:
                    # a claim changes who the task is with: give it back for the next person
                    world.engine.unclaim(int(target["user_task_key"]))
    assert not failures, "\n".join(failures[:40])
    return checked


def _raw_routes(app):
    from fastapi.routing import APIRoute
    from starlette.routing import Mount, Route

    for route in flat_routes(app.routes):
        if isinstance(route, Mount) or not isinstance(route, (APIRoute, Route)):
            continue
        for method in sorted(route.methods - {"HEAD"}):
            yield route.name, method, route.path


def test_every_scoped_route_every_person_every_allocation_change(scene, tmp_path):
    world, people, sessions = scene
    drive_until(world, "TypeUpPepTask")  # C-0001 also has a business support (team) task
    oracle = Oracle()
    checked = _check_everything(world, people, sessions, oracle, "as allocated")

    # 1. the north team manager reallocates C-0001 to another social worker: tasks follow
    tm = sessions["st-0040"]
    moved = tm.post("/api/v1/children/C-0001/allocations", json={"role": "social-worker", "staffId": "ST-0002"})
    assert moved.status_code == 200, moved.text
    oracle.allocated["C-0001"] = {"social-worker": "ST-0002"}
    checked += _check_everything(world, people, sessions, oracle, "reallocated")

    # 2. nobody of the role: the PEP's tasks go to the team manager's group
    assert tm.post("/api/v1/children/C-0001/allocations", json={"role": "social-worker", "staffId": None}).status_code == 200
    oracle.allocated["C-0001"] = {}
    checked += _check_everything(world, people, sessions, oracle, "unallocated")

    # 3. an import allocates the first social worker again (the CLI/import path)
    csv = tmp_path / "allocations.csv"
    today = world.clock.now().date().isoformat()
    csv.write_text(f"child_id,staff_id,role,starts_on,ends_on\nC-0001,ST-0001,social-worker,{today},\n")
    summary = import_csv(world.store, "allocations", csv, "test-import")
    assert summary.ok and summary.changed_children == ["C-0001"]
    world.backend.handover.follow(summary.changed_children, actor="test-import", reason="import")
    oracle.allocated["C-0001"] = {"social-worker": "ST-0001"}
    checked += _check_everything(world, people, sessions, oracle, "imported")

    # 4. C-0101 turns 16: the leaving care worker allocated from the birthday takes over
    asyncio.run(world.runtime.advance(datetime(2026, 10, 20, 8, tzinfo=timezone.utc) - world.clock.now()))
    oracle.allocated["C-0101"] = {"social-worker": "ST-0001", "leaving-care-worker": "ST-0003"}
    oracle.needed["C-0101"] = "leaving-care-worker"
    checked += _check_everything(world, people, sessions, oracle, "turned 16")
    assert checked > 1000


def test_each_change_of_allocation_moves_open_tasks_and_is_audited(scene):
    world, _people, sessions = scene
    [task] = [t for t in world.engine.user_tasks() if t.variables["childId"] == "C-0001"]
    assert task.assignee == "amira.quillfeather@council.example.org"
    tm = sessions["st-0040"]
    result = tm.post("/api/v1/children/C-0001/allocations", json={"role": "social-worker", "staffId": "ST-0002"}).json()
    assert [m["userTaskKey"] for m in result["movedTasks"]] == [task.user_task_key]
    moved = world.engine.user_task(task.user_task_key)
    assert (moved.assignee, moved.candidate_groups) == ("bartholomew.nettleby@council.example.org", [])
    pep_id = task.variables["pepId"]
    entry = [a for a in world.store.audit_entries("pep", pep_id) if a.action == "task-reassigned"][-1]
    assert (entry.actor_id, entry.diff["assignee"]) == ("ST-0040", ["amira.quillfeather@council.example.org",
                                                                     "bartholomew.nettleby@council.example.org"])
    assert any(a.action == "allocate" for a in world.store.audit_entries("child", "C-0001"))
    assert world.store.pep(pep_id).owner_staff_id == "ST-0002"
    # the old worker: no longer sees the child or the task; the new one works it
    old, new = sessions["st-0001"], sessions["st-0002"]
    assert old.get(f"/api/v1/user-tasks/{task.user_task_key}").status_code == 403
    assert old.get("/api/v1/children/C-0001").status_code == 403
    assert new.get(f"/api/v1/user-tasks/{task.user_task_key}").json()["canComplete"]
    # nobody of the role: the team manager's group, said in the audit; the manager may act
    tm.post("/api/v1/children/C-0001/allocations", json={"role": "social-worker", "staffId": None})
    unallocated = world.engine.user_task(task.user_task_key)
    assert (unallocated.assignee, unallocated.candidate_groups) == (None, ["team-managers-north"])
    entry = [a for a in world.store.audit_entries("pep", pep_id) if a.action == "task-reassigned"][-1]
    assert "no" in entry.diff["note"] and "team manager" in entry.diff["note"]
    assert tm.get(f"/api/v1/user-tasks/{task.user_task_key}").json()["canClaim"]
    # later tasks of the instance follow too
    variables = world.engine.instance(task.process_instance_key).variables
    assert (variables["ownerAssignee"], variables["ownerCandidateGroups"]) == ("", ["team-managers-north"])


def test_a_birthday_hands_the_open_tasks_to_the_new_worker(scene):
    world, _people, sessions = scene
    [task] = [t for t in world.engine.user_tasks() if t.variables["childId"] == "C-0101"]
    assert task.assignee == "amira.quillfeather@council.example.org"  # the social worker, aged 15
    asyncio.run(world.runtime.advance(datetime(2026, 10, 19, 8, tzinfo=timezone.utc) - world.clock.now()))  # still 15
    [task] = [t for t in world.engine.user_tasks() if t.variables["childId"] == "C-0101"]
    assert task.assignee == "amira.quillfeather@council.example.org"
    asyncio.run(world.runtime.advance(timedelta(days=1)))  # 20 October: 16
    moved = world.engine.user_task(task.user_task_key)
    assert moved.assignee == "cressida.fairbrook@council.example.org"  # the leaving care worker
    pep_id = task.variables["pepId"]
    [entry] = [a for a in world.store.audit_entries("pep", pep_id) if a.action == "task-reassigned"]
    assert entry.actor_id == "system" and "leaving care worker" in entry.diff["reason"]
    pep = world.store.pep(pep_id)
    assert (pep.owner_role.value, pep.owner_staff_id) == ("leaving-care-worker", "ST-0003")
    assert sessions["st-0001"].get(f"/api/v1/user-tasks/{task.user_task_key}").status_code == 403
    assert sessions["st-0003"].get(f"/api/v1/user-tasks/{task.user_task_key}").json()["canComplete"]
