"""Issue 14, points 4-7, over HTTP: the PEP and child pages in words, the operations
search and incidents (identifiers only), the dashboard's drill-down, filters, late
initial meetings and CSV, links in staff mail, and the API reference served locally."""

from __future__ import annotations

import asyncio
import csv
import re
from datetime import timedelta

import pytest

from .conftest import WebWorld, Session, drive_until

PEP = "PEP-C-0001-2026-AUT"
CHILD_NAME_PARTS = ("Poppy", "Examplewood")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One child's initial PEP with the school's form back and the meeting to record;
    read-only tests share it."""
    world = WebWorld(tmp_path_factory.mktemp("site"))
    world.child_looked_after()
    drive_until(world, "RecordMeetingTask")
    sessions: dict[str, Session] = {}

    def as_user(username: str) -> Session:
        if username not in sessions:
            sessions[username] = Session(world.app, username)
        return sessions[username]

    yield world, as_user
    for s in sessions.values():
        s.close()
    world.close()


def _text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").replace("&amp;", "&")


# ------------------------------------------------------------------ point 4
def test_the_pep_page_speaks_in_words(site):
    world, as_user = site
    page = as_user("st-0020").get(f"/peps/{PEP}")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Form returned by the setting" in text and "School age" in text and "Autumn term 2026/27" in text
    assert "£600" in text and "sen support" in text.lower()
    assert "21 September 2026" in text  # the form came back that day; no ISO dates
    for code in ("form-returned", "school-age", "sen-support", "ppp amount", "2026-09-21"):
        assert code not in text, code
    # targets are a table with a row per target
    targets = re.search(r"SMART targets</h3>.*?<th scope=\"col\">Who</th><th scope=\"col\">By when</th>.*?</table>",
                        page.text, re.S)
    assert targets and "Read 10 minutes daily with carer" in targets.group(0) and "2 November 2026" in targets.group(0)
    # people by name, not staff ids
    assert "Amira Quillfeather" in text


def test_the_timeline_is_readable_and_filtered(site):
    world, as_user = site
    pc = as_user("st-0020")
    default = _text(pc.get(f"/peps/{PEP}").text)
    assert "Timeline" in default and "PEP record created" in default and "Status: Form returned by the setting" in default
    assert "Viewed the PEP" not in default  # views are a kind of their own, off by default
    views = _text(pc.get(f"/peps/{PEP}?show=views").text)
    assert "Viewed the PEP" in views and "PEP record created" not in views
    mail = _text(pc.get(f"/peps/{PEP}?show=mail").text)
    assert "Initial PEP form: queued to send" in mail and "Status:" not in mail.split("Timeline", 1)[1]
    refused = pc.get(f"/peps/{PEP}?show=gossip")
    assert refused.status_code == 422 and "gossip" in refused.text and "choose from" in refused.text


def test_the_child_page_has_contacts_schools_tasks_and_timeline(site):
    world, as_user = site
    text = _text(as_user("st-0020").get("/children/C-0001").text)
    for part in ("Contacts", "Beryl Kindlewood", "Foster carer", "Education settings", "Oakridge Primary School (fictional)",
                 "Open tasks", "Record PEP meeting and next dates", "Timeline", "Council event recorded: looked after",
                 "14 May 2016", "Autumn term 2026/27"):
        assert part in text, part


def test_a_term_reads_the_same_on_every_page(site):
    world, as_user = site
    pc = as_user("st-0020")
    label = "Autumn term 2026/27"
    for url in (f"/peps/{PEP}", "/children/C-0001", "/dashboard"):
        assert label in _text(pc.get(url).text), url
    from pepflow.web.words import money, long_date, long_datetime, term_label
    from datetime import date, datetime, timezone

    assert term_label(2099, "summer") == "Summer term 2099/00"
    assert money(600) == "£600" and money("1250.5") == "£1,250.50"
    assert long_date(date(2027, 3, 3)) == "3 March 2027"
    assert long_datetime(datetime(2026, 7, 1, 13, 30, tzinfo=timezone.utc)) == "1 July 2026 at 2:30pm"  # BST


# ------------------------------------------------------------------ point 5
def test_operators_find_instances_by_reference_step_dates_and_variables(site):
    world, as_user = site
    ops = as_user("st-0030")
    [inst] = world.engine.instances(state="ACTIVE")
    key = str(inst.process_instance_key)

    def found(query: str) -> str:
        page = ops.get(f"/operations?{query}")
        assert page.status_code == 200
        return page.text

    assert key in found("child=c-0001") and key in found(f"pep={PEP.lower()}")
    assert key not in found("child=C-0002")
    assert key in found("element=record+pep+meeting") and "Record PEP meeting and next dates" in found("")
    assert key in found("started_from=14/9/2026&started_to=14/09/2026") and key not in found("started_from=15/9/2026")
    assert key in found("variable=settingId&value=ES-0001") and key not in found("variable=settingId&value=ES-0002")
    assert key in found("state=ACTIVE") and key not in found("state=COMPLETED")
    refused = _text(found("started_from=31/11/2026"))
    assert "Started from must be a real date" in refused and "31/11/2026" in refused
    assert "No step of the diagram is called" in _text(found("element=teleport"))
    assert "Enter the value settingId must have" in _text(found("variable=settingId"))


def test_the_instance_page_has_names_visits_a_history_tree_and_no_child_data(site):
    world, as_user = site
    ops = as_user("st-0030")
    [inst] = world.engine.instances(state="ACTIVE")
    page = ops.get(f"/operations/instances/{inst.process_instance_key}")
    text = _text(page.text)
    assert "Arrange initial PEP meeting" in text and "Fit to screen" in text and 'data-zoom="in"' in page.text
    assert 'id="history-tree"' in page.text and "under a second" in text or " min" in text or " days" in text
    detail = ops.get(f"/api/v1/process-instances/{inst.process_instance_key}").json()
    assert detail["visits"]["ArrangeInitialMeetingTask"] == 1 and detail["elementNames"]["InitiatePepTask"] == "Initiate PEP record"
    assert "meetingAt" in detail["elementVariables"]["ArrangeInitialMeetingTask"]
    for url in ("/operations", f"/operations/instances/{inst.process_instance_key}", "/operations?child=C-0001"):
        body = ops.get(url).text
        assert not any(part in body for part in CHILD_NAME_PARTS), url


def test_incidents_are_explained_and_retried_in_bulk(world, session_for):
    world.engine.publish_message("child-looked-after", "C-9999", {"childId": "C-9999", "enteredCareOn": "2026-09-14", "emergency": False})
    for _ in range(6):
        world.idle()
        asyncio.run(world.runtime.advance(timedelta(hours=1)))
    [incident] = world.engine.incidents()
    ops = session_for("st-0030")
    [shown] = ops.get("/api/v1/incidents").json()
    assert shown["explanation"] == "The child is not in the records."
    assert "pep import children" in shown["whatToDo"]
    assert {"reference": "C-9999", "href": "/children/C-9999", "who": "the PEP co-ordinator opens the child's record"} in shown["records"]
    text = _text(ops.get("/operations?error=unknownchild").text)
    assert "The child is not in the records." in text and "Retry all 1 incidents" in text
    result = ops.post("/api/v1/incidents/resolution", json={"incidentKeys": [incident.incident_key, 424242]}).json()
    assert result["resolved"] == [incident.incident_key] and result["failed"][0]["incidentKey"] == 424242
    assert [a.action for a in world.store.audit_entries("incident", str(incident.incident_key))] == ["resolve"]


def test_cancelling_several_instances_needs_one_reason_and_records_it(world, session_for):
    world.child_looked_after()
    # a second instance: a message for a child the records do not have (it stops at an incident)
    world.engine.publish_message("child-looked-after", "C-9999", {"childId": "C-9999", "enteredCareOn": "2026-09-14", "emergency": False})
    ops = session_for("st-0030")
    keys = [i.process_instance_key for i in world.engine.instances(state="ACTIVE")]
    assert len(keys) == 2
    assert ops.post("/api/v1/process-instances/cancellation", json={"processInstanceKeys": keys}).status_code == 422
    reason = "Test records loaded into live by mistake (ticket 4411)"
    result = ops.post("/api/v1/process-instances/cancellation", json={"processInstanceKeys": keys + [1], "reason": reason}).json()
    assert sorted(result["cancelled"]) == sorted(keys) and result["failed"][0]["processInstanceKey"] == 1
    page = _text(ops.get(f"/operations/instances/{keys[0]}").text)
    assert "Cancelled" in page and reason in page


# ------------------------------------------------------------------ point 6
def test_a_meeting_arranged_late_counts_as_late_and_the_card_drills_down(world, session_for):
    world.child_looked_after()  # 14 September: the initial meeting is due by 28 September
    asyncio.run(world.runtime.advance(timedelta(days=16)))
    world.backend._dashboard = None
    vs = session_for("st-0021")
    assert vs.get("/api/v1/dashboard").json()["overdueInitialMeetings"] == 1
    page = _text(vs.get("/dashboard?card=initial-late").text)
    assert "Poppy Examplewood" in page and "Oakridge Primary School (fictional)" in page and "Amira Quillfeather" in page
    assert "No meeting arranged; due by 28 September 2026" in page
    # now arranged, for a day after the deadline: still late, with the days it is late by
    from pepflow.roleplay import RolePlayer

    [task] = [t for t in world.engine.user_tasks() if t.element_id == "ArrangeInitialMeetingTask"]
    roles = RolePlayer(world.store)
    world.engine.complete_user_task(task.user_task_key, roles.variables_for(task, world.clock.now()), actor=roles.actor_for(task))
    world.idle()
    world.backend._dashboard = None
    figures = vs.get("/api/v1/dashboard").json()
    assert figures["overdueInitialMeetings"] == 1
    page = _text(vs.get("/dashboard?card=initial-late").text)
    assert re.search(r"Meeting on \d+ (September|October) 2026, due by 28 September 2026 \(\d+ working days late\)", page)


def test_dashboard_filters_narrow_every_card_and_the_csv(world, session_for):
    world.child_looked_after()
    world.backend._dashboard = None
    vs = session_for("st-0021")
    everyone = vs.get("/api/v1/dashboard").json()
    north = vs.get("/api/v1/dashboard?locality=north").json()
    south = vs.get("/api/v1/dashboard?locality=south").json()
    assert north["childrenInCare"] + south["childrenInCare"] == everyone["childrenInCare"]
    assert north["pepsDueThisTerm"] == 1 and south["pepsDueThisTerm"] == 0
    by_worker = vs.get("/api/v1/dashboard?worker=ST-0001").json()
    assert by_worker["pepsDueThisTerm"] == 1
    rows = list(csv.DictReader(vs.get("/api/v1/dashboard.csv?school=ES-0001").text.splitlines()))
    assert rows and {r["school"] for r in rows} == {"Oakridge Primary School (fictional)"}
    assert len(rows) == len({r["child_id"] for r in rows})
    refused = vs.get("/api/v1/dashboard.csv?locality=atlantis")
    assert refused.status_code == 404 and "atlantis" in refused.json()["detail"]
    assert vs.get("/api/v1/dashboard?term=autumn-2026").status_code == 422  # not a term's shape
    page = _text(vs.get("/dashboard?school=ES-9999").text)
    assert "There is a problem with the filters" in page and "ES-9999" in page
    page = vs.get("/dashboard?card=due&locality=north")
    assert "/children/C-0001" in page.text and "1 PEPs due this term" in _text(page.text)
    trend = _text(vs.get("/dashboard").text)
    assert "PEPs completed in time, term by term" in trend and '<svg viewBox' in vs.get("/dashboard").text


# ------------------------------------------------------------------ point 7
def test_staff_mail_links_to_the_pep_page_and_outside_mail_does_not(world):
    world.child_looked_after()
    import sqlalchemy as sa

    from pepflow.store.models import MailOutboxRow

    with world.backend.reads.connect() as conn:
        ids = [row.id for row in conn.execute(sa.select(MailOutboxRow.id))]
    messages = world.store.outbox_messages(ids, with_content=False)
    from pepflow.mail.links import STAFF_KINDS as staff_kinds

    seen = set()
    link = f"http://127.0.0.1:8000/peps/{PEP}"
    for m in messages:
        body = m.text_body + (m.html_body or "")
        if m.kind in staff_kinds:
            assert link in body, m.kind
            seen.add(m.kind)
        else:
            assert "/peps/" not in body, m.kind
            seen.add(m.kind)
    assert {"virtual-school-notice", "initial-pep"} <= seen


def test_the_api_reference_is_served_from_the_product(world):
    from fastapi.testclient import TestClient

    with TestClient(world.app) as client:
        page = client.get("/api/v1/docs")
        assert page.status_code == 200
        assert re.findall(r'(?:src|href)="(https?:)?//', page.text) == []  # nothing from another origin
        assert "<script>" not in page.text  # no inline script: the CSP allows only 'self'
        for asset in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):
            assert client.get(asset).status_code == 200, asset
