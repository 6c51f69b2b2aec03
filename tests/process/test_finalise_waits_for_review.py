"""An approved PEP is not made final while a form returned for it waits for review
(issue 16, seen in a simulated year). A form that comes back after the meeting started,
or a health visitor's flagged form, waits on business support's review list; its answers
are not in the PEP until it is reviewed, and a final PEP never changes. The person
finalising is refused with the reason (embedded: the product's task check); where
Tasklist completes the task without that check (Camunda 8), ``CheckFinaliseTask`` sends
the task back with ``finaliseHeldReason``. Returning the PEP for changes stays open."""

from datetime import date, timedelta

import pytest

from pepflow.documents.fill import edit_document, fill_form, set_text
from pepflow.domain.enums import DocumentKind, PepSection, PepStatus
from pepflow.engine.errors import InvalidVariables
from pepflow.return_review import decide
from pepflow.roleplay import RolePlayer

from .conftest import T0
from .helpers import (
    ARRANGED_C0001, MEETING_C0001, SW_PART_DONE, active, advance_to, complete, elements, local, school_answers, start,
    the_task, variables,
)

PEP = "PEP-C-0001-2026-AUT"
DT = "ES-0001 designated teacher"
MEETING_RECORD = {"attendeeIds": ["ES-0001", "CT-0006", "ST-0001"], "nextPepDate1": "2027-01-20"}


async def typed_up_with_a_late_flagged_return(world) -> tuple[int, int]:
    """The form went; the meeting started without it; the school returned it the day
    after the meeting, with an answer the form cannot read: it waits for review on the
    list, and the PEP is typed up meanwhile."""
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    await complete(world, key, "ArrangeInitialMeetingTask", ARRANGED_C0001, actor="ST-0001")
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    await advance_to(world, MEETING_C0001)
    await advance_to(world, local(2026, 9, 23, 10))
    await complete(world, key, "RecordMeetingTask", MEETING_RECORD, actor="ST-0001")
    form = world.store.latest_document(PEP, DocumentKind.FORM)
    filled = fill_form(world.store.document_content(form.id), school_answers(date(2026, 9, 23)))
    late = edit_document(filled, lambda root: set_text(root, "school.attendance_percent", "ninety"))
    outcome = world.events.form_returned(PEP, late, actor=DT)
    await world.runtime.run_until_idle()
    assert outcome.details["needsReview"] is True
    await complete(world, key, "TypeUpPepTask", {"typedUp": True}, actor="ST-0011")
    assert active(world, key) == ["CheckAndFinalisePepTask", "TermlyCycleSubProcess"]
    return key, outcome.details["schoolReturnId"]


def nothing_final(world) -> None:
    assert world.store.documents(PEP, DocumentKind.FINAL) == []
    assert world.store.pep(PEP).status == PepStatus.TYPED_UP


async def test_approving_is_refused_with_the_reason_until_the_return_is_reviewed(make_world):
    world = make_world(T0)
    key, return_id = await typed_up_with_a_late_flagged_return(world)
    task = the_task(world, key, "CheckAndFinalisePepTask")
    with pytest.raises(InvalidVariables) as refused:
        world.engine.complete_user_task(task.user_task_key, {"pepApproved": True}, actor="ST-0001")
    message = str(refused.value)
    assert "Wednesday 23 September 2026" in message and "review" in message and "Returned forms" in message
    assert "ninety" not in message  # dates and counts, never what the school wrote
    assert refused.value.problems[0].startswith("pepApproved: ")
    await world.runtime.run_until_idle()
    assert the_task(world, key, "CheckAndFinalisePepTask").user_task_key == task.user_task_key  # still open
    nothing_final(world)
    roles = RolePlayer(world.store)
    assert roles.waits(task)  # the simulated worker leaves it, as the page tells a person to

    await decide(world, return_id, "accept", actor="ST-0030")
    await world.runtime.run_until_idle()
    assert not roles.waits(task)
    await complete(world, key, "CheckAndFinalisePepTask", {"pepApproved": True}, actor="ST-0001")
    assert world.store.pep(PEP).status == PepStatus.FINAL
    # the school's answers, reviewed, are in the final PEP
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN)["sdq_score"] == 14
    assert "CheckFinaliseTask" in elements(world, key) and "FinaliseHeldGateway" in elements(world, key)


async def test_returning_the_pep_for_changes_is_not_held(make_world):
    world = make_world(T0)
    key, _ = await typed_up_with_a_late_flagged_return(world)
    await complete(world, key, "CheckAndFinalisePepTask", {"pepApproved": False, "returnReasonCode": "section-missing"}, actor="ST-0001")
    assert active(world, key) == ["TermlyCycleSubProcess", "TypeUpPepTask"]
    assert "CheckFinaliseTask" not in elements(world, key, "ACTIVATED")


async def test_where_tasklist_completes_the_task_the_diagram_sends_it_back_with_the_reason(make_world):
    """Camunda 8: Tasklist completes the task with no product check; the step after it
    holds the PEP back. Also the embedded engine's answer to a return that comes in
    between the person's decision and the step."""
    world = make_world(T0)
    key, return_id = await typed_up_with_a_late_flagged_return(world)
    world.engine.core.completion_checks.clear()  # as Tasklist: the form's own checks only
    first = the_task(world, key, "CheckAndFinalisePepTask")
    await complete(world, key, "CheckAndFinalisePepTask", {"pepApproved": True}, actor="ST-0001")

    assert active(world, key) == ["CheckAndFinalisePepTask", "TermlyCycleSubProcess"]
    again = the_task(world, key, "CheckAndFinalisePepTask")
    assert again.user_task_key != first.user_task_key and again.assignee == first.assignee
    v = variables(world, key)
    assert (v["finaliseHeldReason"], v["pepApproved"]) == ("returned-form-awaits-review", None)  # no answer chosen
    assert elements(world, key).count("FinaliseJoinGateway") == 2
    nothing_final(world)
    held = [e for e in world.store.audit_entries("pep", PEP) if e.action == "finalise-held"]
    assert len(held) == 1 and held[0].diff["school_return_ids"] == [return_id]

    await decide(world, return_id, "accept", actor="ST-0030")
    await world.runtime.run_until_idle()
    await complete(world, key, "CheckAndFinalisePepTask", {"pepApproved": True}, actor="ST-0001")
    assert world.store.pep(PEP).status == PepStatus.FINAL
    assert variables(world, key)["finaliseHeldReason"] is None
    assert len(world.store.documents(PEP, DocumentKind.FINAL)) == 1


async def test_a_return_asked_again_does_not_hold_the_pep(make_world):
    """Business support asked the school again: nothing waits for review any more, and
    the meeting has been; the PEP is made final with what it has."""
    world = make_world(T0)
    key, return_id = await typed_up_with_a_late_flagged_return(world)
    await decide(world, return_id, "ask-again", actor="ST-0030", query="Please give the attendance as a percentage.")
    await world.runtime.run_until_idle()
    await complete(world, key, "CheckAndFinalisePepTask", {"pepApproved": True}, actor="ST-0001")
    assert world.store.pep(PEP).status == PepStatus.FINAL
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN) is None
    assert world.clock.now() < MEETING_C0001 + timedelta(days=2)
