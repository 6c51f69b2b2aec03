"""Issue 14, points 4-7 in Chromium, role by role: the PEP co-ordinator, the Virtual
School head, the operator and the administrator each do their job in the browser.

Every page state is screenshotted at 1366 and 390 px (under the test's tmp dir),
must not scroll sideways at 390 px, and axe-core (npm ``axe-core``, injected into the
page) must find no violations. Debian's Chromium only; nothing is downloaded."""

from __future__ import annotations

import asyncio
import csv
import time
from datetime import timedelta
from pathlib import Path

import pytest

from .browser import AXE, CHROMIUM, Visit, served
from .browser import chromium as launch_chromium
from .conftest import PASSWORD, WebWorld, drive_until

PEP = "PEP-C-0001-2026-AUT"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed: apt-get install chromium"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: npm ci"),
]



@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A child's initial PEP waiting for its meeting record, and an instance stopped at
    an incident (a message for a child the records do not have), served live."""
    world = WebWorld(tmp_path_factory.mktemp("journeys"))
    world.accounts.add("ops-only", password=PASSWORD, extra_roles=("operator",))
    world.accounts.add("admin-only", password=PASSWORD, extra_roles=("administrator",))
    world.child_looked_after()
    drive_until(world, "RecordMeetingTask")
    world.engine.publish_message("child-looked-after", "C-9999", {"childId": "C-9999", "enteredCareOn": "2026-09-22", "emergency": False})
    for _ in range(8):
        world.idle()
        if world.engine.incidents():
            break
        asyncio.run(world.runtime.advance(timedelta(hours=1)))
    assert world.engine.incidents()
    with served(world) as base:
        yield world, base


@pytest.fixture(scope="module")
def chromium():
    with launch_chromium() as b:
        yield b




def test_pep_coordinator_follows_a_child_from_the_dashboard_to_the_pep(site, chromium, tmp_path):
    world, base = site
    v = Visit(chromium, base, "st-0020", tmp_path)
    page = v.page
    v.go("/dashboard")
    v.check("coordinator-dashboard")
    page.get_by_role("link", name="1 PEPs due this term").click()
    page.wait_for_url("**card=due**")
    rows = page.locator("#children ~ div table tbody tr, section[aria-labelledby='children'] tbody tr")
    assert rows.count() == 1 and "Poppy Examplewood" in rows.first.inner_text()
    v.check("coordinator-dashboard-due")
    page.get_by_role("link", name="Poppy Examplewood").click()
    page.wait_for_url("**/children/C-0001")
    assert page.get_by_role("heading", name="Contacts").count() == 1
    assert "Beryl Kindlewood" in page.inner_text("main") and "Oakridge Primary School (fictional)" in page.inner_text("main")
    v.check("coordinator-child")
    page.get_by_role("link", name=PEP).first.click()
    page.wait_for_url(f"**/peps/{PEP}")
    main = page.inner_text("main")
    assert "Form returned by the setting" in main and "£600" in main and "form-returned" not in main
    v.check("coordinator-pep")
    page.get_by_label("Who viewed the record").check()
    page.get_by_label("Progress").uncheck()
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**show=views**")
    assert "Viewed the PEP" in page.inner_text("ol.timeline")
    v.check("coordinator-pep-timeline-views")
    v.close()


def test_virtual_school_head_filters_reads_the_trend_and_downloads_a_row_per_child(site, chromium, tmp_path):
    world, base = site
    v = Visit(chromium, base, "st-0021", tmp_path)
    page = v.page
    v.go("/dashboard")
    assert page.locator("figure.chart svg[role='img']").count() == 1
    page.get_by_label("Locality").select_option("north")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**locality=north**")
    v.check("virtual-school-north")
    page.get_by_role("link", name="without an up-to-date PEP").click()
    page.wait_for_url("**card=not-up-to-date**")
    table = page.inner_text("section[aria-labelledby='children']")
    assert "No final PEP for Autumn term 2026/27" in table
    v.check("virtual-school-not-up-to-date")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download a row per child (CSV)").click()
    rows = list(csv.DictReader(Path(download.value.path()).read_text().splitlines()))
    assert rows and {r["locality"] for r in rows} == {"north"} and len({r["child_id"] for r in rows}) == len(rows)
    v.close()


def test_administrator_manages_accounts_and_reads_the_api_reference(site, chromium, tmp_path):
    world, base = site
    v = Visit(chromium, base, "admin-only", tmp_path)
    page = v.page
    v.go("/admin/users")
    assert page.get_by_role("heading", level=1).count() == 1
    v.check("administrator-accounts")
    v.go("/api/v1/docs")
    page.wait_for_selector("#swagger-ui .info", timeout=15000)  # rendered from /vendor, under the CSP
    assert "PEP flow" in page.inner_text("#swagger-ui .info")
    v.close()


def test_operator_finds_scopes_retries_and_cancels_with_a_reason(site, chromium, tmp_path):
    world, base = site
    v = Visit(chromium, base, "ops-only", tmp_path)
    page = v.page
    v.go("/operations")
    assert "The child is not in the records." in page.inner_text("main")
    v.check("operator-operations")
    page.get_by_label("Child reference").fill("c-0001")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**child=c-0001**")
    assert "1 instance found." in page.inner_text("main")
    assert "Poppy" not in page.content()
    v.check("operator-search-child")
    page.get_by_label("Started from").fill("31/11/2026")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**started_from=**")
    assert "Started from must be a real date" in page.inner_text(".error-summary")
    v.check("operator-search-refused")
    [pep_instance] = [i for i in world.engine.instances(state="ACTIVE") if i.variables.get("childId") == "C-0001"] or [
        i for i in world.engine.instances(state="ACTIVE") if world.engine.instance(i.process_instance_key).variables.get("childId") == "C-0001"]
    v.go(f"/operations/instances/{pep_instance.process_instance_key}")
    page.wait_for_selector("#diagram[data-rendered='yes']", timeout=15000)
    assert page.locator(".pep-active").count() >= 1 and page.locator(".visits").count() >= 1
    before = page.evaluate("() => document.querySelector('#diagram .viewport').getAttribute('transform')")
    page.get_by_role("button", name="Zoom in").click()
    assert page.evaluate("() => document.querySelector('#diagram .viewport').getAttribute('transform')") != before
    page.get_by_role("button", name="Fit to screen").click()
    v.check("operator-instance")
    page.locator('#diagram [data-element-id="ArrangeInitialMeetingTask"]').first.click()
    assert "Arrange initial PEP meeting" in page.inner_text("#scope")
    visible = page.locator("#variables tr[data-variable]:visible")
    names = [visible.nth(i).get_attribute("data-variable") for i in range(visible.count())]
    assert "meetingAt" in names and "settingId" not in names
    v.check("operator-instance-scoped")
    # retry every incident, then cancel the stuck instance with a reason
    v.go("/operations")
    incident = world.engine.incidents()[0]
    page.get_by_role("button", name="Retry all 1 incidents").click()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and {i.incident_key for i in world.engine.incidents()} & {incident.incident_key}:
        time.sleep(0.2)
    assert incident.incident_key not in {i.incident_key for i in world.engine.incidents()}
    v.go(f"/operations/instances/{incident.process_instance_key}")
    page.get_by_role("button", name="Cancel instance…").click()
    page.get_by_role("button", name="Cancel for good").click()
    assert "at least 10 characters" in page.inner_text("#cancel-error")
    v.check("operator-cancel-dialog")
    reason = "No child C-9999 in the council's records: message sent in error"
    page.get_by_label("Reason (at least 10 characters)").fill(reason)
    page.get_by_role("button", name="Cancel for good").click()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and world.engine.instance(incident.process_instance_key).state != "CANCELED":
        time.sleep(0.2)
    assert world.engine.instance(incident.process_instance_key).state == "CANCELED"
    page.wait_for_load_state("networkidle")
    v.go(f"/operations/instances/{incident.process_instance_key}")
    assert reason in page.inner_text("main")
    v.check("operator-cancelled")
    v.close()
