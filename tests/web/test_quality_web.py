"""The quality review and Pupil Premium Plus through the web: who may do what, a QA
cycle (red, returned, improved, green) in pages, the PP+ request-decision-ledger path,
and the same QA cycle in Debian's Chromium."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest

from pepflow.domain.enums import DocumentKind, PepSection
from pepflow.domain.quality import SEED_CRITERIA
from pepflow.domain.variables import QUALITY_VARIABLES
from pepflow.quality import IMPROVE_TASK, RATE_TASK, QualityService
from pepflow.store.ppp import PppRecords

from .conftest import PASSWORD, WebWorld, drive_until
from .browser import ARTIFACTS, CHROMIUM, served, sign_in as _sign_in
from .browser import chromium as launch_chromium

PEP = "PEP-C-0001-2026-AUT"
TARGETS = [{"target": "Read a chapter book each week"}, {"target": "Times tables to 12 by Easter"}]


def to_final_and_review(world: WebWorld) -> QualityService:
    """C-0001's first PEP played to final, with targets in the school's return, and
    its quality review started (as the daily check does)."""
    world.child_looked_after()
    drive_until(world, "CheckAndFinalisePepTask")
    school = world.store.section(PEP, PepSection.SCHOOL_RETURN) or {}
    world.store.save_section(PEP, PepSection.SCHOOL_RETURN, {**school, "targets": TARGETS}, actor="ST-0011")
    [check] = world.engine.user_tasks(element_id="CheckAndFinalisePepTask")
    world.engine.complete_user_task(check.user_task_key, {"pepApproved": True}, actor="amira.quillfeather@council.example.org")
    world.idle()
    service = QualityService(world.store, world.engine, world.clock, world.casework)
    world.engine.add_completion_check(service.check_task)
    assert service.request_due() == [PEP]
    world.idle()
    return service


def rating_form(overall: str, red: str | None = None, comment: str = "") -> dict:
    data = {f"rating-{c.code}": "green" for c in SEED_CRITERIA}
    if red:
        data[f"rating-{red}"] = "red"
        data[f"comment-{red}"] = "No target has a measure or a date"
    return {**data, "overall": overall, "overall-comment": comment}


def test_a_qa_cycle_and_pupil_premium_plus_in_the_pages(world, session_for):
    service = to_final_and_review(world)
    vs, sw, bs, coordinator = (session_for(u) for u in ("st-0021", "st-0001", "st-0011", "st-0020"))

    # the social worker cannot rate; the Virtual School can, and a red needs its reason
    assert sw.post(f"/peps/{PEP}/quality/rating", data=rating_form("green")).status_code == 403
    refused = vs.post(f"/peps/{PEP}/quality/rating", data=rating_form("red", red="smart-targets"))
    assert refused.status_code == 400 and "say in the overall comment what must be improved" in refused.text
    done = vs.post(f"/peps/{PEP}/quality/rating", data=rating_form("red", "smart-targets", "Make the targets SMART"),
                   follow_redirects=False)
    assert done.status_code == 303
    world.idle()
    page = sw.get(f"/peps/{PEP}/quality").text
    assert 'data-rating="red"' in page and "No target has a measure or a date" in page and 'id="improve-form"' in page
    assert 'id="improve-form"' not in vs.get(f"/peps/{PEP}/quality").text  # only the owner improves

    # the owner improves it by correcting the final PEP; a correction that changes nothing is refused
    assert vs.post(f"/peps/{PEP}/quality/improvement", data={}).status_code == 403
    bad = sw.post(f"/peps/{PEP}/quality/improvement", data={"section": "school-return", "field": "no_such_field",
                                                            "value": "x", "reason": "Targets made SMART"})
    assert bad.status_code == 400 and "has no field(s) no_such_field" in bad.text
    good = sw.post(f"/peps/{PEP}/quality/improvement", follow_redirects=False, data={
        "section": "school-return", "field": "progress", "value": "Target 1 measured weekly, met by 12 February",
        "reason": "Targets made SMART as the Virtual School asked"})
    assert good.status_code == 303
    world.idle()
    assert sorted(d.version for d in world.store.documents(PEP, DocumentKind.FINAL)) == [1, 2]
    assert [t.element_id for t in world.engine.user_tasks() if t.variables.get("pepId") == PEP] == [RATE_TASK]
    assert vs.post(f"/peps/{PEP}/quality/rating", data=rating_form("green"), follow_redirects=False).status_code == 303
    world.idle()
    assert [r.rating.value for r in service.records.reviews_for(PEP)] == ["red", "green"]
    assert not [t for t in world.engine.user_tasks() if t.element_id in (RATE_TASK, IMPROVE_TASK)]

    dashboard = coordinator.get("/dashboard/quality").text
    assert "Oakridge Primary School (fictional)" in dashboard and "Autumn 2026/27" in dashboard
    trend = re.search(r'<table id="quality-trend">.*?</table>', dashboard, re.S).group(0)
    assert "100%" in trend  # the PEP counts at its latest rating: green

    # Pupil Premium Plus: requested by the worker, decided by the Virtual School only
    assert vs.post(f"/peps/{PEP}/ppp", data={"target": "1", "amount": "300", "purpose": "Tutor"}).status_code == 403
    absurd = sw.post(f"/peps/{PEP}/ppp", data={"target": "1", "amount": "-300", "purpose": "Tutor"})
    assert absurd.status_code == 400 and "cannot be negative" in absurd.text
    assert sw.post(f"/peps/{PEP}/ppp", data={"target": "2", "amount": "£450.25", "purpose": "Maths tutor"},
                   follow_redirects=False).status_code == 303
    assert bs.post(f"/peps/{PEP}/ppp", data={"target": "1", "amount": "80", "purpose": "Books"},
                   follow_redirects=False).status_code == 303
    first, second = (r.id for r in PppRecords(world.store).for_pep(PEP))
    assert sw.post(f"/ppp/{first}/decision", data={"decision": "approve"}).status_code == 403
    assert coordinator.post(f"/ppp/{first}/decision", data={"decision": "approve"}).status_code == 403
    assert vs.post(f"/ppp/{first}/decision", data={"decision": "approve"}, follow_redirects=False).status_code == 303
    no_reason = vs.post(f"/ppp/{second}/decision", data={"decision": "refuse"})
    assert no_reason.status_code == 400 and "the reason for refusing is needed" in no_reason.text
    vs.post(f"/ppp/{second}/decision", data={"decision": "refuse", "reason": "The school's budget covers books"})
    ledger = coordinator.get("/ppp?year=2026").text
    assert "£450.25" in ledger and "Oakridge Primary School (fictional)" in ledger
    rows = list(csv.DictReader(io.StringIO(coordinator.get("/ppp.csv?year=2026").text)))
    assert [r["amount"] for r in rows if r["status"] == "total"] == ["450.25"]
    assert any(e.action == "export-csv" for e in world.store.audit_entries("report", "ppp-ledger"))

    # an operator sees the quality process's identifiers and codes, never a page of child data
    world.accounts.add("ops-only", password=PASSWORD, extra_roles=("operator",))
    ops = session_for("ops-only")
    assert ops.get(f"/peps/{PEP}/quality").status_code == 403
    assert ops.get("/dashboard/quality").status_code == 403 and ops.get("/ppp.csv").status_code == 403
    [instance] = world.engine.instances(bpmn_process_id="pep-quality")
    shown = ops.get(f"/api/v1/process-instances/{instance.process_instance_key}").json()["variables"]
    assert shown["qualityRating"] == "green" and shown["pepId"] == PEP
    assert set(shown) <= set(QUALITY_VARIABLES)
    assert "Make the targets SMART" not in str(shown) and "Poppy" not in str(shown)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed")
def test_a_qa_cycle_in_the_browser(tmp_path):
    world = WebWorld(tmp_path)
    service = to_final_and_review(world)
    with served(world) as base, launch_chromium() as browser:
        def wait_for(element_id):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if any(t.element_id == element_id for t in world.engine.user_tasks()):
                    return
                time.sleep(0.2)
            raise AssertionError(f"no {element_id}")

        def rate(page, overall, red=None):
            page.goto(f"{base}/peps/{PEP}/quality")
            for c in SEED_CRITERIA:
                group = page.get_by_role("group", name=c.title)
                group.get_by_label("red" if c.code == red else "green", exact=True).check()
                if c.code == red:
                    group.get_by_label("Comment").fill("No target has a measure or a date")
            overall_group = page.get_by_role("group", name="Overall")
            overall_group.get_by_label(overall, exact=True).check()
            if overall == "red":
                overall_group.get_by_label(re.compile("Overall comment")).fill("Make the targets SMART")
            page.get_by_role("button", name="Record the rating").click()
            page.wait_for_url(f"{base}/peps/{PEP}/quality")

        vs = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        _sign_in(vs, base, "st-0021")
        rate(vs, "red", red="smart-targets")
        assert vs.locator("[data-rating=red]").count() == 1
        wait_for(IMPROVE_TASK)

        sw = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        _sign_in(sw, base, "st-0001")
        sw.goto(f"{base}/peps/{PEP}")
        sw.get_by_role("link", name="Quality review and Pupil Premium Plus").click()
        assert "No target has a measure or a date" in sw.content()
        sw.get_by_label("Part of the PEP").select_option("school-return")
        sw.get_by_label("Field").fill("progress")
        sw.get_by_label("New text").fill("Target 1 measured weekly, met by 12 February")
        sw.get_by_label(re.compile("^Why")).fill("Targets made SMART as the Virtual School asked")
        sw.get_by_role("button", name="Correct the final PEP").click()
        sw.wait_for_url(f"{base}/peps/{PEP}/quality")
        wait_for(RATE_TASK)

        rate(vs, "green")
        ARTIFACTS.mkdir(exist_ok=True)
        vs.screenshot(path=str(ARTIFACTS / "pep-quality.png"), full_page=True)
        assert vs.locator("[data-rating=green]").count() == 1
        vs.goto(f"{base}/dashboard/quality")
        assert "100%" in vs.locator("#quality-trend").inner_text()
    assert [r.rating.value for r in service.records.reviews_for(PEP)] == ["red", "green"]
    assert sorted(d.version for d in world.store.documents(PEP, DocumentKind.FINAL)) == [1, 2]
