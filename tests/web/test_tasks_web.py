"""The task list and task forms (issue 14, point 3): names instead of logins, search
by a child's name, queues that say who has what and what I completed, dates as
England writes them (a date that is not real refused in words, never a JSON 422 on a
page), drafts that never freeze the form's option lists, and follow-up dates."""

from __future__ import annotations

from .conftest import drive_until


def _task(world, element_id, child="C-0001"):
    return next(t for t in world.engine.user_tasks() if t.element_id == element_id and t.variables["childId"] == child)


def test_the_task_list_names_people_and_searches_by_name(world, session_for):
    world.child_looked_after("C-0001", "2026-09-14")
    sw = session_for("st-0001")
    items = sw.get("/api/v1/user-tasks", params={"queue": "mine"}).json()["items"]
    assert [(i["childName"], i["assigneeName"]) for i in items] == [("Poppy Examplewood", "Amira Quillfeather")]
    assert sw.get("/api/v1/user-tasks", params={"queue": "mine", "childRef": "poppy"}).json()["total"] == 1
    assert sw.get("/api/v1/user-tasks", params={"queue": "mine", "childRef": "examplewood POPPY"}).json()["total"] == 1
    assert sw.get("/api/v1/user-tasks", params={"queue": "mine", "childRef": "Toby"}).json()["total"] == 0
    page = sw.get("/tasks?childRef=Poppy")
    assert "Amira Quillfeather" in page.text and "amira.quillfeather@" not in page.text


def test_dates_in_the_filter_are_english_and_a_wrong_one_is_refused_in_words(world, session_for):
    world.child_looked_after("C-0001", "2026-09-14")
    sw = session_for("st-0001")
    assert sw.get("/api/v1/user-tasks", params={"dueBefore": "30/09/2026"}).json()["total"] == 1
    assert sw.get("/api/v1/user-tasks", params={"dueBefore": "15/09/2026"}).json()["total"] == 0
    bad = sw.get("/api/v1/user-tasks", params={"dueBefore": "31/11/2026"})
    assert bad.status_code == 422 and "not a real date" in bad.json()["detail"]["fields"]["dueBefore"]
    page = sw.get("/tasks?dueBefore=31/11/2026")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "There is a problem" in page.text and "not a real date" in page.text
    assert "01/12/2026" not in page.text
    assert "30/09/2026" in sw.get("/tasks?dueBefore=30/09/2026").text  # kept as typed


def test_business_support_is_pointed_to_the_team_queue_and_sees_who_claimed_what(world, session_for):
    world.child_looked_after("C-0001", "2026-09-14")
    task = drive_until(world, "TypeUpPepTask")
    bs, colleague = session_for("st-0011"), session_for("st-0012")
    mine = bs.get("/tasks?queue=mine")
    assert "go to my team&#39;s unclaimed tasks" in mine.text or "go to my team's unclaimed tasks" in mine.text
    assert colleague.post(f"/api/v1/user-tasks/{task.user_task_key}/assignment").status_code == 200
    claimed = bs.get("/api/v1/user-tasks", params={"queue": "claimed"}).json()["items"]
    assert [(i["userTaskKey"], i["assigneeName"]) for i in claimed] == [(task.user_task_key, "Felix Oddingley")]
    # the colleague completes it: it is in their completed view, with their name
    assert colleague.post(f"/api/v1/user-tasks/{task.user_task_key}/completion",
                          json={"variables": {"typedUp": True}}).status_code == 204
    done = colleague.get("/api/v1/user-tasks", params={"queue": "done"}).json()["items"]
    assert [(i["userTaskKey"], i["completedByName"]) for i in done] == [(task.user_task_key, "Felix Oddingley")]
    assert bs.get("/api/v1/user-tasks", params={"queue": "done"}).json()["total"] == 0
    # a draft saved on a task another tab (or person) completed is refused, saying so
    late = colleague.put(f"/api/v1/user-tasks/{task.user_task_key}/draft", json={"variables": {"typedUp": True}})
    assert late.status_code == 409 and "already completed by Felix Oddingley" in late.json()["detail"]


def test_every_human_step_has_a_due_and_follow_up_date_not_already_past(world, session_for):
    world.child_looked_after("C-0001", "2026-09-14")
    seen = {}
    for element in ("ArrangeInitialMeetingTask", "CompletePepFormTask", "RecordMeetingTask", "TypeUpPepTask",
                    "CheckAndFinalisePepTask"):
        task = drive_until(world, element)
        seen[element] = task
        assert task.due_date is not None and task.due_date > task.created_at, element
        assert task.follow_up_date is not None and task.follow_up_date <= task.due_date, element
    sw = session_for("st-0001")
    page = sw.get(f"/tasks/{seen['CheckAndFinalisePepTask'].user_task_key}")
    assert "The typed-up PEP" in page.text and "Meeting record" in page.text


def test_a_draft_never_freezes_the_forms_option_lists(world, session_for):
    world.child_looked_after("C-0001", "2026-09-14")
    task = _task(world, "ArrangeInitialMeetingTask")
    sw = session_for("st-0001")
    form = sw.get(f"/api/v1/user-tasks/{task.user_task_key}/form").json()
    before = form["data"]["contactOptions"]
    saved = sw.put(f"/api/v1/user-tasks/{task.user_task_key}/draft", json={"variables": {"venueCode": "online"}})
    assert saved.status_code == 200, saved.text
    # the options change after the draft (a new contact): the form shows the new list, and the draft's answer
    options = [*world.engine.instance(task.process_instance_key).variables["contactOptions"],
               {"label": "Foster carer (CT-0099)", "value": "CT-0099"}]
    world.engine.set_variables(task.process_instance_key, {"contactOptions": options})
    reopened = sw.get(f"/api/v1/user-tasks/{task.user_task_key}/form").json()
    assert reopened["data"]["venueCode"] == "online" and reopened["draftSavedAt"]
    assert len(reopened["data"]["contactOptions"]) == len(before) + 1
    assert sw.delete(f"/api/v1/user-tasks/{task.user_task_key}/draft").status_code == 204
    assert "venueCode" not in sw.get(f"/api/v1/user-tasks/{task.user_task_key}/form").json()["data"] or \
        sw.get(f"/api/v1/user-tasks/{task.user_task_key}/form").json()["draftSavedAt"] is None


def test_a_form_returned_and_waiting_for_review_is_shown_at_type_up_and_finalise(world, session_for):
    """A health visitor's flagged form (the process does not wait for it), or one that
    came after the meeting started, waits on the review list. Business support typing
    up the PEP and the worker finalising it see it there and then, with the link to
    review it: its answers are not in the PEP until it is reviewed."""
    world.child_looked_after("C-0001", "2026-09-14")
    task = drive_until(world, "TypeUpPepTask")
    pep_id = task.variables["pepId"]
    bs, sw = session_for("st-0011"), session_for("st-0001")
    assert "waits for review" not in bs.get(f"/tasks/{task.user_task_key}").text
    document = world.store.record_document(pep_id, "returned", "returned.docx", content=b"form", actor="system")
    stored = world.store.returns.add(pep_id, document.id, form_version=1, latest_form_version=1, values={},
                                     findings=[{"kind": "outside-answers", "text": "call me"}], changes=[],
                                     actor="health visitor")
    page = bs.get(f"/tasks/{task.user_task_key}").text
    assert "A form returned for this PEP waits for review" in page
    assert f'href="/reviews/{stored.id}"' in page and "1 thing flagged" in page
    finalise = drive_until(world, "CheckAndFinalisePepTask")
    page = sw.get(f"/tasks/{finalise.user_task_key}").text
    assert "A form returned for this PEP waits for review" in page
    assert f"Returned form {stored.id}" in page and f'href="/reviews/{stored.id}"' not in page  # not theirs to review
    # approving is refused with the reason and what to do; the task stays where it was
    approve = {"variables": {"pepApproved": True}}
    refused = sw.post(f"/api/v1/user-tasks/{finalise.user_task_key}/completion", json=approve)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert "waits for business support's review" in detail["message"] and "call me" not in refused.text
    assert detail["problems"][0].startswith("pepApproved: ")
    assert world.engine.user_task(finalise.user_task_key).state == "CREATED"
    world.store.returns.decide(stored.id, "withdrawn", actor="ST-0011")
    assert "waits for review" not in sw.get(f"/tasks/{finalise.user_task_key}").text
    assert sw.post(f"/api/v1/user-tasks/{finalise.user_task_key}/completion", json=approve).status_code == 204
