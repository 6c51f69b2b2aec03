"""The JSON API over a real embedded product (SQLite, simulation clock)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import PASSWORD, drive_until, sign_in

AMIRA = "amira.quillfeather@council.example.org"  # ST-0001's login
ELSPETH = "elspeth.marchbank@council.example.org"  # ST-0011's login


def _my_tasks(s):
    response = s.get("/api/v1/user-tasks?queue=mine")
    assert response.status_code == 200
    return response.json()["items"]


def test_social_worker_completes_a_task_with_the_form_check(world, session_for):
    world.child_looked_after()
    sw = session_for("st-0001")
    [task] = _my_tasks(sw)
    assert task["elementId"] == "ArrangeInitialMeetingTask" and task["assignee"] == AMIRA
    assert task["childId"] == "C-0001" and task["dueDate"] and task["canComplete"]
    key = task["userTaskKey"]
    form = sw.get(f"/api/v1/user-tasks/{key}/form").json()
    assert form["schema"]["id"] == "arrange-initial-meeting" and form["data"]["childId"] == "C-0001"
    # the server checks the form's required fields again
    response = sw.post(f"/api/v1/user-tasks/{key}/completion", json={"variables": {}})
    assert response.status_code == 422 and response.json()["detail"]["problems"]
    # a draft is kept and reopened
    assert sw.put(f"/api/v1/user-tasks/{key}/draft", json={"variables": {"venueCode": "online"}}).status_code == 200
    reopened = sw.get(f"/api/v1/user-tasks/{key}/form").json()
    assert reopened["data"]["venueCode"] == "online" and reopened["draftSavedAt"]
    # a draft holds the form's fields only: not a variable of the process, not free text
    assert sw.put(f"/api/v1/user-tasks/{key}/draft", json={"variables": {"pepId": "PEP-C-0002-2026-AUT"}}).status_code == 422
    assert sw.put(f"/api/v1/user-tasks/{key}/draft", json={"variables": {"venue": "School"}}).status_code == 422
    from pepflow.roleplay import RolePlayer

    answers = RolePlayer(world.store).variables_for(world.engine.user_task(key), world.clock.now())
    assert sw.post(f"/api/v1/user-tasks/{key}/completion", json={"variables": answers}).status_code == 204
    assert world.engine.user_task(key).state == "COMPLETED"
    assert world.accounts.draft(key, "ST-0001") is None
    actions = [a.action for a in world.store.audit_entries("pep", task["pepId"])]
    assert "view-task:ArrangeInitialMeetingTask" in actions and "complete-task:ArrangeInitialMeetingTask" in actions


def test_caseload_and_team_scopes(world, session_for):
    world.child_looked_after()
    other = session_for("st-0002")  # another social worker
    assert _my_tasks(other) == []
    key = world.engine.user_tasks()[0].user_task_key
    assert other.get(f"/api/v1/user-tasks/{key}").status_code == 403
    assert other.get("/api/v1/children/C-0001").status_code == 403
    assert other.get("/api/v1/user-tasks?queue=all").status_code == 403
    vs = session_for("st-0021")
    assert vs.get("/api/v1/user-tasks?queue=all").json()["total"] == 1
    assert vs.post(f"/api/v1/user-tasks/{key}/assignment").status_code == 403


def test_business_support_claims_and_unclaims_team_tasks(world, session_for):
    world.child_looked_after()
    task = drive_until(world, "TypeUpPepTask")
    bs = session_for("st-0011")
    team = bs.get("/api/v1/user-tasks?queue=team").json()["items"]
    assert [t["userTaskKey"] for t in team] == [task.user_task_key]
    assert team[0]["candidateGroups"] == ["business-support-north"] and team[0]["canClaim"]
    south = session_for("st-0013")
    assert south.get("/api/v1/user-tasks?queue=team").json()["items"] == []
    assert south.post(f"/api/v1/user-tasks/{task.user_task_key}/assignment").status_code == 403
    claimed = bs.post(f"/api/v1/user-tasks/{task.user_task_key}/assignment").json()
    assert claimed["assignee"] == ELSPETH and claimed["canComplete"]
    assert bs.get("/api/v1/user-tasks?queue=team").json()["items"] == []
    assert bs.delete(f"/api/v1/user-tasks/{task.user_task_key}/assignee").json()["assignee"] is None


def test_filters_and_sorting(world, session_for):
    world.child_looked_after("C-0001")
    import asyncio
    from datetime import timedelta

    asyncio.run(world.runtime.advance(timedelta(days=14)))  # an entry is recorded on the day, not ahead
    world.child_looked_after("C-0007", "2026-09-28")
    vs = session_for("st-0020")
    all_tasks = vs.get("/api/v1/user-tasks?queue=all").json()
    assert all_tasks["total"] == 2
    dues = [t["dueDate"] for t in all_tasks["items"]]
    assert dues == sorted(dues)
    assert vs.get("/api/v1/user-tasks?queue=all&order=desc").json()["items"][0]["dueDate"] == dues[-1]
    assert [t["childId"] for t in vs.get("/api/v1/user-tasks?queue=all&childRef=c-0007").json()["items"]] == ["C-0007"]
    assert vs.get("/api/v1/user-tasks?queue=all&overdue=true").json()["total"] == 0
    assert vs.get("/api/v1/user-tasks?queue=all&dueBefore=2026-09-01").json()["total"] == 0
    assert vs.get("/api/v1/user-tasks?queue=all&elementId=TypeUpPepTask").json()["total"] == 0


def test_pep_page_data_and_audit(world, session_for):
    world.child_looked_after()
    drive_until(world, "RecordMeetingTask")
    pep_id = "PEP-C-0001-2026-AUT"
    sw = session_for("st-0001")
    data = sw.get(f"/api/v1/peps/{pep_id}").json()
    assert data["pep"]["status"] == "form-returned"
    assert {d["kind"] for d in data["documents"]} >= {"form", "returned"}
    assert data["schoolReturn"]["sdq_score"] == 14
    assert data["mail"] and data["history"]
    doc = data["documents"][0]
    download = sw.get(f"/api/v1/peps/{pep_id}/documents/{doc['id']}")
    assert download.status_code == 200 and download.content[:2] == b"PK"
    actions = [a.action for a in world.store.audit_entries("pep", pep_id)]
    assert "view" in actions and "download-document" in actions
    page = sw.get(f"/peps/{pep_id}")
    assert page.status_code == 200 and "What the school returned" in page.text
    # the answers by the content model's sections, as the final PEP shows them, in words
    assert "<h3>Health and well-being</h3>" in page.text and "<dt>Latest SDQ score (0–40)</dt>" in page.text
    assert "<h3>SMART targets</h3>" in page.text and "sdq_score" not in page.text


def test_upload_rejects_a_file_that_is_not_the_form(world, session_for):
    world.child_looked_after()
    sw = session_for("st-0001")
    response = sw.post("/api/v1/peps/PEP-C-0001-2026-AUT/school-form",
                       files={"file": ("form.docx", b"not a word file", "application/octet-stream")})
    assert response.status_code == 422


def test_upload_of_a_returned_form_moves_the_process(world, session_for):
    from pepflow.documents import SchoolReturn
    from pepflow.documents.fill import fill_form
    from pepflow.domain.enums import DocumentKind

    world.child_looked_after()
    roles_done = drive_until(world, "CompletePepFormTask")
    from pepflow.roleplay import RolePlayer

    world.engine.complete_user_task(roles_done.user_task_key, RolePlayer(world.store).variables_for(roles_done, world.clock.now()), actor="ST-0001")
    world.idle()
    pep_id = "PEP-C-0001-2026-AUT"
    assert world.store.pep(pep_id).status.value == "form-sent"
    form = world.store.document_content(world.store.latest_document(pep_id, DocumentKind.FORM).id)
    filled = fill_form(form, SchoolReturn(completed_by="DT", child_views="Likes maths", sdq_score=12))
    sw = session_for("st-0001")
    response = sw.post(f"/api/v1/peps/{pep_id}/school-form", files={"file": ("r.docx", filled, "application/octet-stream")})
    assert response.status_code == 200, response.text
    assert response.json()["correlatedInstances"]
    world.idle()
    assert world.store.pep(pep_id).status.value == "form-returned"
    assert world.store.section(pep_id, "school-return")["child_views"] == "Likes maths"


def test_operator_sees_identifiers_only_and_retries_incidents(world, session_for):
    world.child_looked_after()
    ops = session_for("st-0030")
    [inst] = ops.get("/api/v1/process-instances?state=ACTIVE").json()["items"]
    assert inst["activeElements"] == ["ArrangeInitialMeetingTask"]
    detail = ops.get(f"/api/v1/process-instances/{inst['processInstanceKey']}").json()
    assert detail["variables"]["childId"] == "C-0001"
    assert all("Poppy" not in str(v) for v in detail["variables"].values())
    assert "StartEvent" in " ".join(detail["completedElements"]) or detail["completedElements"]
    assert ops.get(f"/api/v1/process-instances/{inst['processInstanceKey']}/xml").text.startswith("<?xml")
    assert ops.get("/api/v1/process-instances?elementId=TypeUpPepTask").json()["total"] == 0
    key = inst["processInstanceKey"]
    # a cancel without a reason is refused, and the instance keeps running
    assert ops.post(f"/api/v1/process-instances/{key}/cancellation").status_code == 422
    assert ops.post(f"/api/v1/process-instances/{key}/cancellation", json={"reason": "dup"}).status_code == 422
    assert world.engine.instance(key).state == "ACTIVE"
    reason = "Duplicate of the instance started by the import on 14/09"
    assert ops.post(f"/api/v1/process-instances/{key}/cancellation", json={"reason": reason}).status_code == 204
    assert world.engine.instance(key).state == "CANCELED"
    assert ops.get(f"/api/v1/process-instances/{key}").json()["cancellations"][0]["reason"] == reason
    [entry] = [a for a in world.store.audit_entries("process-instance", str(key)) if a.action == "cancel"]
    assert entry.diff["reason"] == reason and entry.actor_id == "ST-0030"
    assert ops.post("/api/v1/incidents/1/resolution", json={"retries": 1}).status_code == 404


def test_dashboard_and_csv(world, session_for):
    world.child_looked_after()
    vs = session_for("st-0021")
    figures = vs.get("/api/v1/dashboard").json()
    assert figures["childrenInCare"] >= 1 and figures["term"]["term"] == "autumn"
    csv_text = vs.get("/api/v1/dashboard.csv").text
    import csv as _csv

    rows = list(_csv.DictReader(csv_text.splitlines()))
    # one table: a row per child in care, each with the cards it is on
    assert len(rows) == figures["childrenInCare"] and len({r["child_id"] for r in rows}) == len(rows)
    [poppy] = [r for r in rows if r["child_id"] == "C-0001"]
    assert poppy["child_name"] == "Poppy Examplewood" and poppy["due"] == "yes" and poppy["term"] == "Autumn term 2026/27"
    assert figures["lateSteps"] == 0


def test_the_dashboard_lists_every_late_step_until_the_pep_moves_on(world, session_for):
    world.child_looked_after()
    import asyncio
    from datetime import timedelta

    asyncio.run(world.runtime.advance(timedelta(days=16)))  # the initial meeting was due on 28 September
    world.backend._dashboard = None  # figures are cached for 15 s
    vs = session_for("st-0021")
    figures = vs.get("/api/v1/dashboard").json()
    assert figures["lateSteps"] == 1
    [late] = figures["escalations"]
    assert (late["pepId"], late["childId"], late["kind"], late["ownerStaffId"]) == (
        "PEP-C-0001-2026-AUT", "C-0001", "initial-meeting", "ST-0001")
    page = vs.get("/dashboard").text
    assert "The initial PEP meeting" in page and "PEP-C-0001-2026-AUT" in page


def test_lockout_sign_out_and_session_end(world):
    with TestClient(world.app) as client:
        for _ in range(5):
            assert "error=" in sign_in(client, "st-0001", "wrong-password-123").headers["location"]
        # locked: even the right password fails now
        assert "error=" in sign_in(client, "st-0001").headers["location"]
        account = world.accounts.by_username("st-0001")
        assert account.locked_until is not None
        world.accounts.unlock(account.id)
        assert sign_in(client, "st-0001").headers["location"] == "/"
        old_cookie = client.cookies.get("pep_session")
        csrf = world.app.state.web.sessions.read(old_cookie)["c"]
        assert client.post("/sign-out", headers={"X-CSRF-Token": csrf}, follow_redirects=False).status_code == 303
    with TestClient(world.app, cookies={"pep_session": old_cookie}) as replay:
        assert replay.get("/api/v1/me").status_code == 401
    actions = [a.action for a in world.store.audit_entries("account")]
    assert "sign-in-failed" in actions and "sign-in" in actions and "sign-out" in actions


def test_openapi_is_published_with_camunda_names(world):
    with TestClient(world.app) as client:
        spec = client.get("/api/v1/openapi.json").json()
    props = spec["components"]["schemas"]["UserTaskOut"]["properties"]
    assert {"userTaskKey", "assignee", "candidateGroups", "dueDate", "followUpDate"} <= set(props)
    assert "/api/v1/user-tasks/{user_task_key}/completion" in spec["paths"]


def test_admin_creates_accounts(world, session_for):
    admin = session_for("st-0030")
    response = admin.post("/api/v1/users", json={"username": "new.person", "password": PASSWORD})
    assert response.status_code == 201 and response.json()["roles"] == []
    # ST-0002 has an account already (seeded)
    assert admin.post("/api/v1/users", json={"username": "dup", "staffId": "ST-0002", "password": PASSWORD}).status_code == 422
    assert admin.post("/api/v1/users", json={"username": "x", "password": "short"}).status_code == 422


def test_a_worker_says_in_words_what_to_change_and_business_support_reads_it(world, session_for):
    world.child_looked_after()
    task = drive_until(world, "CheckAndFinalisePepTask")
    pep_id = "PEP-C-0001-2026-AUT"
    sw, bso, other = session_for("st-0001"), session_for("st-0011"), session_for("st-0002")
    words = "Target 2 needs a date; the carer's name is misspelt"
    assert other.put(f"/api/v1/peps/{pep_id}/return-comments", json={"text": words}).status_code in (403, 404)
    assert sw.put(f"/api/v1/peps/{pep_id}/return-comments", json={"text": ""}).status_code == 422
    assert sw.put(f"/api/v1/peps/{pep_id}/return-comments", json={"text": words}).status_code == 204
    sent_back = sw.post(f"/api/v1/user-tasks/{task.user_task_key}/completion",
                        json={"variables": {"pepApproved": False, "returnReasonCode": "other"}})
    assert sent_back.status_code == 204, sent_back.text
    world.idle()
    [typing] = [t for t in world.engine.user_tasks() if t.element_id == "TypeUpPepTask"]
    page = bso.get(f"/tasks/{typing.user_task_key}").text
    assert "Sent back for changes" in page and "the carer&#39;s name is misspelt" in page
    # free text never reached the process: only the reason's code did
    variables = world.engine.instance(typing.process_instance_key).variables
    assert words not in str(variables) and variables["returnReasonCode"] == "other"
    audit = [a for a in world.store.audit_entries("pep", pep_id) if a.action == "save-section:check-notes"]
    assert audit and audit[0].actor_id == "ST-0001"
