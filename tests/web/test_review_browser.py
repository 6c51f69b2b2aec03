"""The review of a returned form in a real browser (issue 12; Debian's Chromium).

Business support uploads a form whose attendance says "ninety": the page keeps what
was flagged on screen (where, and the school's own words) instead of vanishing, links
to the review, where an edit the form refuses comes back in a GOV.UK error summary
and a good one is accepted - and the process goes on past ``ReviewReturnedFormTask``.
"""

from __future__ import annotations

import time

import pytest

from pepflow.documents.fill import edit_document, fill_form, set_text
from pepflow.domain.enums import DocumentKind, PepSection
from pepflow.roleplay import RolePlayer

from .conftest import WebWorld
from .browser import CHROMIUM, served, sign_in as _sign_in
from .browser import chromium as launch_chromium
from ..process.helpers import school_answers

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed"),
]

PEP = "PEP-C-0001-2026-AUT"


@pytest.fixture
def live(tmp_path):
    """C-0001's initial PEP form is with the school; the web app and workers run."""
    world = WebWorld(tmp_path)
    world.child_looked_after()
    roles = RolePlayer(world.store, return_pep_at_first_check=False)
    for element in ("ArrangeInitialMeetingTask", "CompletePepFormTask"):
        [task] = world.engine.user_tasks(element_id=element)
        world.engine.complete_user_task(task.user_task_key, roles.variables_for(task, world.clock.now()), actor=roles.actor_for(task))
        world.idle()
    with served(world) as base:
        yield world, base


@pytest.fixture
def browser():
    with launch_chromium() as b:
        yield b


def _wait(condition, seconds=15):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    return condition()


def test_business_support_reviews_a_flagged_return_in_the_browser(live, browser, tmp_path):
    world, base = live
    form = world.store.latest_document(PEP, DocumentKind.FORM)
    filled = fill_form(world.store.document_content(form.id), school_answers(world.clock.now().date()))
    flagged = tmp_path / "returned.docx"
    flagged.write_bytes(edit_document(filled, lambda root: set_text(root, "school.attendance_percent", "ninety")))

    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _sign_in(page, base, "st-0011")  # business support, north
    page.goto(f"{base}/peps/{PEP}")
    page.set_input_files("#school-form", str(flagged))
    page.get_by_role("button", name="Upload").click()
    result = page.locator("#upload-result")
    result.get_by_text('"ninety"').wait_for(timeout=15000)
    time.sleep(1.5)  # it used to vanish after 0.8 s: it stays until the person moves on
    assert "waiting for business support's review" in result.inner_text()
    assert '"ninety"' in result.inner_text()
    assert _wait(lambda: bool(world.engine.user_tasks(element_id="ReviewReturnedFormTask")))

    result.get_by_role("link", name="Review returned form").click()
    page.wait_for_url(f"{base}/reviews/*")
    assert page.get_by_text('ninety').count() >= 1
    assert page.get_by_role("heading", name="What was read").count() == 1
    page.get_by_text("Correct answers before accepting").click()
    box = page.locator("#edit-attendance_percent")
    box.fill("ninety-one")
    page.get_by_role("button", name="Accept").click()
    summary = page.locator(".error-summary")
    summary.wait_for(timeout=10000)
    assert summary.get_by_role("heading", name="There is a problem").count() == 1
    assert page.locator("#edit-attendance_percent").get_attribute("aria-invalid") == "true"
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN) is None  # nothing accepted

    page.locator("#edit-attendance_percent").fill("90.5")
    page.get_by_role("button", name="Accept").click()
    page.get_by_text("Accepted: the form is taken into the PEP.").wait_for(timeout=10000)
    assert not errors, errors
    context.close()

    assert world.store.section(PEP, PepSection.SCHOOL_RETURN)["attendance_percent"] == "90.5"
    assert _wait(lambda: not world.engine.user_tasks(element_id="ReviewReturnedFormTask"))
    [instance] = world.engine.instances(state="ACTIVE")
    assert "MeetingWaitGateway" in world.engine.instance(instance.process_instance_key).active_elements
    decided = [a for a in world.store.audit_entries("pep", PEP) if a.action == "school-return-accepted"]
    assert decided[-1].actor_id == "ST-0011"
