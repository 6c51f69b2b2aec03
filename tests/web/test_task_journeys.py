"""Issue 14, points 1-3 in Chromium, role by role: the social worker, business support,
the team manager and the PEP co-ordinator reassign and cover, record council events,
and work their task lists and forms in the browser.

Every page state is screenshotted at 1366 and 390 px (under the test's tmp dir), must
not scroll sideways at 390 px, and axe-core (npm ``axe-core``, injected into the page
through the DevTools protocol; the app's CSP stays on) must find no violations.
Debian's Chromium only; nothing is downloaded."""

from __future__ import annotations

import time

import pytest

from .browser import AXE, CHROMIUM, Visit as _Visit, served
from .browser import chromium as launch_chromium
from .conftest import WebWorld, drive_until


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed: apt-get install chromium"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: npm ci"),
]



@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """C-0001 (north, social worker ST-0001) at "Record PEP meeting", served live."""
    world = WebWorld(tmp_path_factory.mktemp("task-journeys"))
    world.child_looked_after()
    drive_until(world, "RecordMeetingTask")
    with served(world) as base:
        yield world, base


@pytest.fixture(scope="module")
def chromium():
    with launch_chromium() as b:
        yield b




def Visit(browser, base: str, username: str, shots) -> _Visit:  # noqa: N802 - the shared Visit, content width checked
    return _Visit(browser, base, username, shots, wide="document.getElementById('main')")


def _task(world, element_id, child="C-0001"):
    return next(t for t in world.engine.user_tasks() if t.element_id == element_id and t.variables.get("childId") == child)


def test_social_worker_works_the_list_and_a_form_as_govuk_does(site, chromium, tmp_path):
    world, base = site
    v = Visit(chromium, base, "st-0001", tmp_path)
    page = v.page
    v.go("/tasks?queue=mine")
    row = page.locator("tr[data-task]").first
    assert "Poppy Examplewood" in row.inner_text() and "Amira Quillfeather" in row.inner_text()
    v.check("sw-my-tasks")
    # search by name; a date England does not have is refused in words, on the page
    page.get_by_label("Child's name or reference, or PEP reference").fill("poppy")
    page.get_by_label("Due on or before").fill("31/11/2026")
    page.get_by_role("button", name="Apply").click()
    summary = page.locator(".error-summary")
    assert "not a real date" in summary.inner_text()
    assert page.evaluate("() => document.activeElement.id") == "filter-errors"
    v.check("sw-filter-refused")
    summary.get_by_role("link").first.click()
    assert page.evaluate("() => document.activeElement.id") == "dueBefore"
    # the form: focus on the heading, nothing flagged before submitting
    task = _task(world, "RecordMeetingTask")
    v.go(f"/tasks/{task.user_task_key}")
    page.wait_for_selector("#form .fjs-form")
    assert page.evaluate("() => document.activeElement.id") == "task-heading"
    assert page.locator(".fjs-form-field-error").count() == 0 and page.locator(".error-summary").count() == 0
    v.check("sw-task-form")
    page.get_by_role("button", name="Complete task").click()
    summary = page.locator("#form-errors .error-summary")
    summary.wait_for()
    links = summary.get_by_role("link")
    assert links.count() >= 1
    v.check("sw-task-form-errors")
    links.first.click()
    assert page.evaluate("() => document.activeElement.closest('#form') !== null")
    # a draft can be saved and discarded
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Discard draft").wait_for()
    with page.expect_navigation():
        page.get_by_role("button", name="Discard draft").click()
    page.wait_for_selector("#form .fjs-form")
    assert "Draft discarded" in page.locator("#status").inner_text()
    assert page.get_by_role("button", name="Discard draft").count() == 0
    v.close()


def test_the_meeting_was_not_held_so_record_pep_meeting_waits_for_the_new_time(site, chromium, tmp_path):
    world, base = site
    task = _task(world, "RecordMeetingTask")
    v = Visit(chromium, base, "st-0001", tmp_path)
    page = v.page
    v.go(f"/tasks/{task.user_task_key}")
    page.get_by_role("link", name="The meeting was not held or moved").click()
    page.wait_for_url("**/events?pep=*")
    form = page.locator("#meeting-changed")
    form.get_by_label("Not held (it was due, and did not take place)").check()
    form.get_by_label("Date of the rearranged meeting").fill("31/11/2026")
    form.get_by_label("Time of the rearranged meeting").fill("14:05")
    form.get_by_label("Why it changed").fill("The carer was ill")
    form.get_by_role("button", name="Record the change").click()
    summary = form.locator(".error-summary")
    summary.wait_for()
    assert "not a real date" in summary.inner_text()
    assert "not a real date" in form.locator(".field-error").first.inner_text()
    v.check("sw-meeting-not-held-refused")
    from datetime import timedelta

    from pepflow.calendar import WorkingDays
    from pepflow.casework import local_date

    day = local_date(world.clock.now()) + timedelta(days=14)
    while not WorkingDays().is_working_day(day):
        day += timedelta(days=1)
    form.get_by_label("Date of the rearranged meeting").fill(day.strftime("%d/%m/%Y"))
    form.get_by_role("button", name="Record the change").click()
    page.locator("#status.ok").wait_for()
    assert "not held" in page.locator("#status").inner_text()
    v.check("sw-meeting-not-held-recorded")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(t.element_id == "RecordMeetingTask" for t in world.engine.user_tasks()):
        time.sleep(0.2)
    assert not any(t.element_id == "RecordMeetingTask" for t in world.engine.user_tasks())
    v.close()


def test_business_support_is_pointed_to_the_team_queue(site, chromium, tmp_path):
    _world, base = site
    v = Visit(chromium, base, "st-0013", tmp_path)  # south: nothing waiting
    v.go("/tasks?queue=mine")
    empty = v.page.locator("#empty-state")
    assert "Nothing is assigned to you" in empty.inner_text()
    v.check("bs-empty-mine")
    v.go("/tasks?queue=done")
    assert "not completed any tasks" in v.page.locator("#empty-state").inner_text()
    v.check("bs-done")
    v.close()


def test_team_manager_records_an_absence_and_the_cover_gets_the_tasks(site, chromium, tmp_path):
    world, base = site
    v = Visit(chromium, base, "st-0040", tmp_path)
    page = v.page
    v.go("/cover")
    v.check("tm-cover")
    form = page.locator("#absence")
    form.get_by_label("Who is away").select_option("ST-0001")
    form.get_by_label("Who covers their children's PEP tasks").select_option("ST-0002")
    form.get_by_label("First day away").fill("31/11/2026")
    form.get_by_role("button", name="Record absence").click()
    summary = form.locator(".error-summary")
    summary.wait_for()
    text = summary.inner_text()
    assert "not a real date" in text and "Enter the last day away" in text and "Enter the reason" in text
    v.check("tm-absence-refused")
    from pepflow.casework import local_date

    today = local_date(world.clock.now()).strftime("%d/%m/%Y")
    form.get_by_label("First day away").fill(today)
    form.get_by_label("Last day away").fill(today)
    form.get_by_label("Reason").fill("Annual leave")
    with page.expect_navigation():
        form.get_by_role("button", name="Record absence").click()
    page.locator("table.list >> text=Annual leave").wait_for()
    assert world.store.cover.absent_on("ST-0001", local_date(world.clock.now())).cover_staff_id == "ST-0002"
    v.check("tm-absence-recorded")
    # the PEP's next tasks go to the cover (the process's owner variables follow)
    [owner] = [v["ownerAssignee"] for _k, _d, v in world.engine.active_instance_variables("pep") if v.get("childId") == "C-0001"]
    assert owner == "bartholomew.nettleby@council.example.org"
    # withdrawn: the tasks come back
    page.get_by_label("Reason for withdrawing").fill("Back early")
    with page.expect_navigation():
        page.get_by_role("button", name="Withdraw").click()
    page.get_by_text("Nobody you manage is recorded as away").wait_for()
    [owner] = [v["ownerAssignee"] for _k, _d, v in world.engine.active_instance_variables("pep") if v.get("childId") == "C-0001"]
    assert owner == "amira.quillfeather@council.example.org"
    v.close()


def test_pep_coordinator_records_an_entry_into_care_and_gives_the_task_to_a_colleague(site, chromium, tmp_path):
    world, base = site
    v = Visit(chromium, base, "st-0020", tmp_path)
    page = v.page
    # a child comes into care (south): the same checks as pep event looked-after
    v.go("/events?child=C-0002")
    form = page.locator("#looked-after")
    form.get_by_role("button", name="Record entry into care").click()
    form.locator(".error-summary").wait_for()
    assert "Choose whether" in form.locator(".error-summary").inner_text()
    v.check("pc-events-refused")
    form.get_by_label("Date they came into care").fill("21/09/2026")  # as the council's children export has it
    form.get_by_label("Emergency").check()
    form.get_by_role("button", name="Record entry into care").click()
    page.locator("#status.ok").wait_for()
    assert "emergency entry" in page.locator("#status").inner_text()
    v.check("pc-events-recorded")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(t.variables.get("childId") == "C-0002" for t in world.engine.user_tasks()):
        time.sleep(0.2)
    task = _task(world, "ArrangeInitialMeetingTask", "C-0002")
    v.go(f"/tasks/{task.user_task_key}")
    give = page.locator("#give-task")
    give.get_by_label("Colleague").select_option("ST-0003")
    give.get_by_role("button", name="Give task").click()
    give.locator(".error-summary").wait_for()
    assert "Enter the reason" in give.locator(".error-summary").inner_text()
    v.check("pc-give-refused")
    give.get_by_label("Reason").fill("Bartholomew is at court all week")
    with page.expect_navigation():
        give.get_by_role("button", name="Give task").click()
    page.locator("#assignee >> text=Cressida Fairbrook").wait_for()
    assert world.engine.user_task(task.user_task_key).assignee == "cressida.fairbrook@council.example.org"
    v.check("pc-task-given")
    v.close()
