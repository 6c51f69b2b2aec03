"""A task the process sends back must say why, in Tasklist too.

When the process refuses a meeting date (``CheckInitialMeetingDateTask``, a half term,
a bank holiday...) the task comes back to the worker with ``meetingDateProblem`` and
the dates behind it; when a PEP is sent back for changes, "Type up PEP" comes back
with ``returnReasonCode``. Tasklist shows only the form, filled from the process
variables, so the form itself must say what was refused and why (a text field shown
only then) - the product's own web is not there to say it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timezone

import pytest

from .form_user import CHROMIUM, ROOT, VIEWER, Browser

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed"),
    pytest.mark.skipif(not VIEWER.exists(), reason="node_modules is absent: run `npm ci --ignore-scripts`"),
]

NOW = datetime(2026, 10, 19, 8, 0, tzinfo=timezone.utc)  # Monday 19 October 2026, 09:00 in England


@pytest.fixture(scope="module")
def browser():
    chromium = Browser()
    chromium.start()
    yield chromium
    chromium.close()


def _form(form_id: str) -> dict:
    return json.loads((ROOT / "forms" / f"{form_id}.form").read_text())


OPTIONS = [{"label": "Social worker (ST-0001)", "value": "ST-0001"}]


@pytest.mark.parametrize(("code", "words"), [
    ("past", "it is in the past"),
    ("weekend", "it falls on a weekend"),
    ("bank-holiday", "it is a bank holiday"),
    ("half-term", "it is in the setting's half term"),
    ("school-holiday", "it is in the setting's school holidays"),
    ("inset-day", "it is an INSET (staff training) day at the setting"),
    ("closure", "the council is closed that day"),
])
def test_a_refused_meeting_date_is_explained_in_both_date_forms(browser, code, words):
    refused = {"meetingDateProblem": code, "meetingDateRefusedOn": "2026-10-27", "meetingDateNextValid": "2026-11-02"}
    for form_id, what in (("arrange-initial-meeting", "The meeting date"), ("record-pep-meeting", "The next PEP date")):
        worked = browser.work(_form(form_id), {"contactOptions": OPTIONS, **refused}, {}, NOW)
        assert (
            f"{what} Tuesday 27 October 2026 was not accepted: {words}. "
            "The next day that can be used is Monday 2 November 2026. Enter another date."
        ) in worked.text, worked.text


def test_with_no_term_dates_the_form_says_whom_to_ask(browser):
    refused = {"meetingDateProblem": "no-term-dates", "meetingDateRefusedOn": "2028-10-02", "meetingDateNextValid": None}
    worked = browser.work(_form("arrange-initial-meeting"), {"contactOptions": OPTIONS, **refused}, {}, NOW)
    assert ("The meeting date Monday 2 October 2028 was not accepted: no term dates are loaded for that school "
            "year; ask the administrator to import them. Enter another date.") in worked.text, worked.text


def test_nothing_is_said_when_nothing_was_refused(browser):
    for form_id in ("arrange-initial-meeting", "record-pep-meeting", "type-up-pep"):
        clear = {"meetingDateProblem": None, "meetingDateRefusedOn": None, "meetingDateNextValid": None, "returnReasonCode": None}
        worked = browser.work(_form(form_id), {"contactOptions": OPTIONS, **clear}, {}, NOW)
        assert "was not accepted" not in worked.text and "Sent back" not in worked.text, worked.text


@pytest.mark.parametrize(("code", "words"), [
    ("typing-errors", "typing errors"),
    ("section-missing", "a section is missing or incomplete"),
    ("targets-not-smart", "the targets are not SMART"),
    ("attendees-or-dates", "the attendees or dates are wrong"),
    ("other", "another reason (see the PEP's records)"),
])
def test_type_up_says_why_the_pep_was_sent_back(browser, code, words):
    worked = browser.work(_form("type-up-pep"), {"returnReasonCode": code, "typedUp": None}, {"typedUp": True}, NOW)
    assert f"Sent back for changes by the social worker: {words}." in worked.text
    assert worked.ok and worked.data["typedUp"] is True
    assert worked.prefilled == {}


def test_finalise_says_why_an_approved_pep_was_not_made_final(browser):
    """``CheckFinaliseTask`` sent the task back: a returned form waits for review."""
    held = {"finaliseHeldReason": "returned-form-awaits-review", "pepApproved": None, "returnReasonCode": None}
    worked = browser.work(_form("finalise-pep"), held, {"pepApproved": True}, NOW)
    assert "Not finalised: a form returned for this PEP waits for business support's review" in worked.text
    assert worked.ok and worked.data["pepApproved"] is True
    first_visit = browser.work(_form("finalise-pep"), {**held, "finaliseHeldReason": None}, {"pepApproved": True}, NOW)
    assert "Not finalised" not in first_visit.text


def test_every_return_reason_the_finalise_form_offers_has_words_in_type_up():
    reasons = next(c for c in _form("finalise-pep")["components"] if c.get("key") == "returnReasonCode")["values"]
    text = next(c for c in _form("type-up-pep")["components"] if c["type"] == "text")["text"]
    assert [r["value"] for r in reasons if f'"{r["value"]}"' not in text] == []


def test_a_half_term_date_goes_back_to_the_worker_who_reads_why_and_enters_another(browser, tmp_path):
    """End to end on the embedded engine: the person types a half-term date in
    form-js; the process refuses it and sends the task back; the form, from the
    process variables only, says why and names the next day; the person enters it and
    the meeting is arranged."""
    from pepflow.app import open_app
    from pepflow.clock import SimulationClock
    from pepflow.config import AppSettings
    from pepflow.events import CouncilEvents
    from pepflow.sample_data import load_sample_data

    async def scenario() -> tuple[list, object]:
        clock = SimulationClock(datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc))  # C-0001 enters care (sample data)
        settings = AppSettings(data_dir=tmp_path, database_url=None, smtp_host=None, environment="development", final_pdf=False)
        seen = []
        async with open_app(settings, clock) as app:
            load_sample_data(app.store, actor="test")
            # the product's own web and CLI refuse the date before the task completes
            # (pepflow/task_checks.py); Tasklist has no such hook: Zeebe completes the
            # task and the diagram's next step checks the date. As on Camunda 8:
            app.engine._completion_checks.clear()
            CouncilEvents(app.store, app.engine, app.casework, clock).looked_after("C-0001", date(2026, 9, 14), actor="test")
            await app.runtime.run_until_idle()
            for meeting in ("2026-10-27T09:00:00Z", "2026-11-02T10:00:00Z"):  # 10:00 Tuesday in half term; then Monday 2 November
                [task] = app.engine.user_tasks(element_id="ArrangeInitialMeetingTask")
                schema = app.engine.form(task.form_id).schema
                worked = await asyncio.to_thread(
                    browser.work, schema, json.loads(json.dumps(task.variables)),
                    {"meetingAt": meeting, "venueCode": "education-setting", "inviteeIds": ["ES-0001", "ST-0001"]}, clock.now(),
                )
                assert worked.ok, (worked.problems, worked.errors)
                seen.append((task.variables.get("meetingDateProblem"), worked.text))
                app.engine.complete_user_task(task.user_task_key, worked.data, actor=task.assignee)
                await app.runtime.run_until_idle()
            pep = app.store.pep(task.variables["pepId"])
            return seen, pep

    seen, pep = asyncio.run(scenario())
    (first_problem, first_text), (second_problem, second_text) = seen
    assert first_problem is None and "was not accepted" not in first_text
    assert second_problem == "half-term"
    assert ("The meeting date Tuesday 27 October 2026 was not accepted: it is in the setting's half term. "
            "The next day that can be used is Monday 2 November 2026.") in second_text
    assert pep.meeting_at == datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)
