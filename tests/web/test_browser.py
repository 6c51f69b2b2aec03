"""Browser tests: Playwright drives Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from .browser import ARTIFACTS, CHROMIUM, served, sign_in as _sign_in
from .browser import chromium as launch_chromium
from .conftest import WebWorld, drive_until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed: apt-get install chromium"),
]


@pytest.fixture
def live(tmp_path):
    """The web app and the process runtime on one event loop in a thread."""
    world = WebWorld(tmp_path)
    world.child_looked_after()
    drive_until(world, "RecordMeetingTask")
    with served(world) as base:
        yield world, base


@pytest.fixture
def browser():
    with launch_chromium() as b:
        yield b


def test_social_worker_completes_a_form_and_business_support_sees_the_next_task(live, browser):
    world, base = live
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _sign_in(page, base, "st-0001")
    page.get_by_role("link", name="Record PEP meeting and next dates").click()
    try:
        page.wait_for_selector("#form .fjs-form", timeout=8000)
    except Exception:
        print("STATUS", page.locator("#status").inner_text(), "FORM", page.locator("#form").inner_html()[:300], page.url)
        raise
    # attendees come prefilled from the task's variables? choose from the tag list
    page.locator("#form input[id*='attendeeIds'], #form .fjs-taglist input").first.click()
    # the first option, by the pointer: ArrowDown and Enter, even once the list showed
    # its options, chose nothing in about one run of three (work hints on or off)
    page.locator("#form .fjs-dropdownlist-item").first.click()
    page.locator("#form .fjs-taglist-tag").first.wait_for(timeout=8000)
    date_input = page.locator("#form input[id*='nextPepDate1']").first
    date_input.fill("01/15/2027")
    date_input.press("Enter")
    page.screenshot(path=str(ARTIFACTS / "task-form.png"), full_page=True)
    page.get_by_role("button", name="Complete task").click()
    # the completion wakes the runtime, which runs the jobs it made due; a loaded 2-core machine once took over 15 s
    try:
        page.wait_for_url(f"{base}/tasks", timeout=45000)
    except Exception:  # say what the page and the engine show, not only that it timed out
        pytest.fail(f"no /tasks after completing: page at {page.url}, form errors "
                    f"{page.locator('#form-errors').inner_text()!r}, status {page.locator('#status').inner_text()!r}, "
                    f"open tasks {[t.element_id for t in world.engine.user_tasks()]}, errors {errors}")
    assert not errors, errors
    context.close()

    deadline = time.monotonic() + 15
    while not any(t.element_id == "TypeUpPepTask" for t in world.engine.user_tasks()) and time.monotonic() < deadline:
        time.sleep(0.2)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    _sign_in(page, base, "st-0011")
    page.goto(f"{base}/tasks?queue=team")
    assert page.get_by_role("link", name="Type up PEP").count() == 1
    page.get_by_role("button", name="Claim").click()
    page.wait_for_load_state("networkidle")
    page.goto(f"{base}/tasks?queue=mine")
    assert page.get_by_role("link", name="Type up PEP").count() == 1
    context.close()


def test_operator_sees_the_diagram_and_retries_an_incident(live, browser):
    world, base = live
    ARTIFACTS.mkdir(exist_ok=True)
    # an incident: a message for a child with no care episode makes the worker fail
    world.engine.publish_message("child-looked-after", "C-9999", {"childId": "C-9999", "enteredCareOn": "2026-09-14", "emergency": False})
    deadline = time.monotonic() + 20
    while not world.engine.incidents() and time.monotonic() < deadline:
        world.clock.set(world.clock.now() + timedelta(minutes=10))  # retries back off; the live runtime works them
        time.sleep(0.3)
    [incident] = world.engine.incidents()
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    _sign_in(page, base, "st-0030")
    page.goto(f"{base}/operations")
    pep_instance = [i for i in world.engine.instances(state="ACTIVE") if i.process_instance_key != incident.process_instance_key][0]
    page.goto(f"{base}/operations/instances/{pep_instance.process_instance_key}")
    page.wait_for_selector("#diagram[data-rendered='yes']", timeout=15000)
    assert page.locator(".pep-active").count() >= 1
    assert page.locator(".bjs-powered-by").count() == 1  # the bpmn.io watermark stays
    page.screenshot(path=str(ARTIFACTS / "instance-diagram.png"), full_page=True)
    page.goto(f"{base}/operations/instances/{incident.process_instance_key}")
    page.on("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Retry").first.click()
    page.wait_for_load_state("networkidle")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        states = {i.incident_key: i.state for i in world.engine.incidents(state=None)}
        if states.get(incident.incident_key) == "RESOLVED":
            break
        time.sleep(0.2)
    assert states[incident.incident_key] == "RESOLVED"
    context.close()


def test_pep_coordinator_opens_the_workload_forecast(live, browser):
    world, base = live  # a child's initial PEP meeting held, its record waiting
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _sign_in(page, base, "st-0020")
    page.get_by_role("link", name="Workload forecast").click()
    page.wait_for_url(f"{base}/forecast**")
    assert page.get_by_role("heading", name="Workload forecast by school week, 2026/27").count() == 1
    chart = page.get_by_role("img", name="Four charts by week")
    chart.wait_for()
    page.wait_for_function("document.querySelector('figure img').complete")
    assert chart.evaluate("img => img.naturalWidth") == 1100
    rows = page.locator("tbody tr")
    assert rows.count() >= 45  # every week from September to July
    forms = sum(int(t) for t in page.locator("tbody tr td:nth-child(3)").all_inner_texts())
    assert forms >= 1  # the initial PEP form went to the school
    page.screenshot(path=str(ARTIFACTS / "forecast.png"), full_page=True)
    assert not errors, errors
    context.close()
