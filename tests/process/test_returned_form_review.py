"""A returned form is reviewed before anything is accepted (issue 12): the embedded
engine with the real workers, records, Word documents and mail, on SQLite and
PostgreSQL. A clean return goes straight on; a flagged one waits for business
support (``ReviewReturnedFormTask``), who accept it, accept it with edits (checked
against the form) or ask the school again (a secure mail; the process waits for the
next return). Partial returns merge, each change shown; every version of the form
opens with its own password; a final PEP takes no return."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from pepflow.documents import SchoolReturn, WrongPassword, protect, unprotect
from pepflow.documents.fill import edit_document, fill_form, set_text
from pepflow.domain.enums import DocumentKind, PepSection, PepStatus
from pepflow.events import EventRefused
from pepflow.return_review import decide as decide_now
from pepflow.school_returns import InvalidEdits, SchoolReturns

from .conftest import T0
from .helpers import (
    ARRANGED_C0001, MEETING_C0001, OAKRIDGE_DT, SW_PART_DONE, active, advance_to, complete, elements, mail_kinds,
    school_answers, start, the_task, variables,
)

PEP = "PEP-C-0001-2026-AUT"
DT = "ES-0001 designated teacher"
WAITING = ["AwaitSchoolFormSubProcess", "SchoolFormReturnedEvent", "TermlyCycleSubProcess"]
REVIEWING = ["AwaitSchoolFormSubProcess", "ReviewReturnedFormTask", "TermlyCycleSubProcess"]


async def form_sent(world) -> int:
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    await complete(world, key, "ArrangeInitialMeetingTask", ARRANGED_C0001, actor="ST-0001")
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    assert active(world, key) == WAITING
    return key


def the_form(world, version: int | None = None) -> bytes:
    forms = world.store.documents(PEP, DocumentKind.FORM)
    form = forms[-1] if version is None else next(f for f in forms if f.version == version)
    return world.store.document_content(form.id)


def with_attendance(docx: bytes, text: str) -> bytes:
    """The school typed ``text`` in the attendance box."""
    return edit_document(docx, lambda root: set_text(root, "school.attendance_percent", text))


async def decide(world, return_id: int, decision: str, **kw):
    """Business support decides (as the web page and `pep form-review` do); the workers run."""
    await decide_now(world, return_id, decision, **kw)
    await world.runtime.run_until_idle()


async def returned(world, data: bytes, **kw):
    outcome = world.events.form_returned(PEP, data, actor=DT, **kw)
    await world.runtime.run_until_idle()
    return outcome


async def test_the_initial_pep_goes_to_the_school_as_one_form_only(make_world):
    world = make_world(T0)
    await form_sent(world)
    assert [d.version for d in world.store.documents(PEP, DocumentKind.FORM)] == [1]
    # at entry, then "please return by" once the worker's part is done: the same version,
    # opening with the same password, so the read-back has one candidate
    sent = [m for m in world.mailer.sent if m.recipients == OAKRIDGE_DT and m.attachments]
    assert [m.subject.split()[0] for m in sent] == ["Initial", "PEP"]
    assert {a.filename for m in sent for a in m.attachments} == {f"{PEP}-form-v1.docx"}
    password, version = world.casework.document_password(PEP, DocumentKind.FORM)
    assert version == 1 and all(unprotect(m.attachments[0].data, password) for m in sent)


async def test_a_clean_return_goes_straight_on(make_world):
    world = make_world(T0)
    key = await form_sent(world)
    outcome = await returned(world, fill_form(the_form(world), school_answers(date(2026, 9, 15))))
    assert outcome.details["needsReview"] is False and outcome.warnings == ()
    assert active(world, key) == ["MeetingWaitGateway", "TermlyCycleSubProcess"]
    assert "ReviewReturnedFormTask" not in elements(world, key, "ACTIVATED")
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN)["attendance_percent"] == "96.2"
    assert world.store.pep(PEP).status == PepStatus.FORM_RETURNED
    [stored] = world.store.returns.for_pep(PEP)
    assert (stored.status, stored.decided_by) == ("accepted", DT)


async def test_a_flagged_return_waits_for_review_and_nothing_is_accepted_before(make_world):
    world = make_world(T0)
    key = await form_sent(world)
    data = with_attendance(fill_form(the_form(world), school_answers(date(2026, 9, 15))), "ninety")
    outcome = await returned(world, data)

    assert outcome.details["needsReview"] is True
    assert any('Attendance' in w and '"ninety"' in w for w in outcome.warnings), outcome.warnings
    assert active(world, key) == REVIEWING
    task = the_task(world, key, "ReviewReturnedFormTask")
    assert (task.form_id, task.candidate_groups) == ("review-returned-form", ["business-support-north"])
    v = variables(world, key)
    assert (v["schoolReturnId"], v["returnFlagCount"], v["returnChangeCount"]) == (outcome.details["schoolReturnId"], 1, 0)
    assert v["reviewDecision"] is None
    # the school's text is in the records only, never in a variable
    assert "ninety" not in repr(v)
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN) is None
    assert world.store.pep(PEP).status == PepStatus.FORM_SENT
    report = world.casework.returns.report(v["schoolReturnId"])
    [finding] = report.findings
    assert (finding.kind, finding.field, finding.text) == ("unparsed", "attendance_percent", "ninety")
    assert report.read["sdq_score"] == 14  # what was read is there to see, side by side

    # accepted as read: taken in, the process goes on, who accepted is audited
    await decide(world, v["schoolReturnId"], "accept", actor="ST-0030")
    assert active(world, key) == ["MeetingWaitGateway", "TermlyCycleSubProcess"]
    assert {"DecideSchoolReturnTask", "ReviewedFormTakenInEndEvent"} <= set(elements(world, key))
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN)["sdq_score"] == 14
    assert world.store.pep(PEP).status == PepStatus.FORM_RETURNED
    assert "school-return-accepted" in {a.action for a in world.store.audit_entries("pep", PEP) if a.actor_id == "ST-0030"}


async def test_accept_with_edits_checks_each_edit_against_the_form(make_world):
    world = make_world(T0)
    key = await form_sent(world)
    outcome = await returned(world, with_attendance(fill_form(the_form(world), school_answers(date(2026, 9, 15))), "ninety"))
    return_id = outcome.details["schoolReturnId"]

    with pytest.raises(InvalidEdits) as refused:
        await decide(world, return_id, "accept", actor="ST-0030", edits={"attendance_percent": "ninety-one"})
    assert "attendance_percent" in refused.value.errors
    with pytest.raises(InvalidEdits) as unknown:
        await decide(world, return_id, "accept", actor="ST-0030", edits={"favourite_colour": "blue"})
    assert "favourite_colour" in unknown.value.errors
    assert active(world, key) == REVIEWING  # nothing decided
    assert world.store.returns.get(return_id).status == "pending"

    await decide(world, return_id, "accept", actor="ST-0030", edits={"attendance_percent": "90.5"})
    assert active(world, key) == ["MeetingWaitGateway", "TermlyCycleSubProcess"]
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN)["attendance_percent"] == "90.5"
    decided = [a for a in world.store.audit_entries("pep", PEP) if a.action == "school-return-accepted"]
    assert decided[-1].diff["edits"] == [None, {"attendance_percent": "90.5"}]


async def test_asking_again_mails_the_school_and_the_next_return_is_reviewed(make_world):
    world = make_world(T0)
    key = await form_sent(world)
    first = await returned(world, with_attendance(fill_form(the_form(world), school_answers(date(2026, 9, 15))), "ninety"))
    world.new_mail()
    await decide(world, first.details["schoolReturnId"], "ask-again", actor="ST-0030",
                 query="Please give the attendance as a percentage, for example 90.5.")
    assert active(world, key) == WAITING  # waiting for the school's next return
    [(_, query)] = [(at, m) for at, m in world.new_mail() if m.recipients == OAKRIDGE_DT]
    assert query.subject == f"A question about the PEP form {PEP} you returned"
    assert "Dear Designated Teacher," in query.text_body
    assert "Please give the attendance as a percentage, for example 90.5." in query.text_body
    assert "- Attendance" in query.text_body and not query.attachments
    assert mail_kinds(world, PEP)["pep-form-query"] == 1

    # the school answers: the new form goes to review again, showing what changed
    second = await returned(world, fill_form(the_form(world), school_answers(date(2026, 9, 17))))
    assert second.details["needsReview"] is True
    assert active(world, key) == REVIEWING
    report = world.casework.returns.report(second.details["schoolReturnId"])
    assert report.answers_query == "Please give the attendance as a percentage, for example 90.5."
    changed = {c["field"]: (c["before"], c["after"]) for c in report.changes}
    assert set(changed) == {"completed_on", "targets"}  # the school's dates moved on two days
    assert changed["completed_on"] == ("2026-09-15", "2026-09-17")
    assert variables(world, key)["reviewDecision"] is None  # a fresh review
    await decide(world, second.details["schoolReturnId"], "accept", actor="ST-0030")
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN)["attendance_percent"] == "96.2"
    assert active(world, key) == ["MeetingWaitGateway", "TermlyCycleSubProcess"]


async def test_in_tasklist_the_decision_is_a_code_checked_against_the_form(make_world):
    world = make_world(T0)
    key = await form_sent(world)
    await returned(world, with_attendance(fill_form(the_form(world), school_answers(date(2026, 9, 15))), "ninety"))
    task = the_task(world, key, "ReviewReturnedFormTask")
    from pepflow.engine.errors import EngineError

    with pytest.raises(EngineError):
        world.engine.complete_user_task(task.user_task_key, {"reviewDecision": "shred-it"}, actor="ST-0030")
    with pytest.raises(EngineError):  # asking again needs a reason
        world.engine.complete_user_task(task.user_task_key, {"reviewDecision": "ask-again"}, actor="ST-0030")
    world.engine.complete_user_task(
        task.user_task_key, {"reviewDecision": "ask-again", "queryReasonCode": "unreadable-answers"}, actor="ST-0030",
    )
    await world.runtime.run_until_idle()
    assert active(world, key) == WAITING
    assert mail_kinds(world, PEP)["pep-form-query"] == 1


async def test_a_partial_return_merges_and_each_change_is_shown_and_audited(make_world):
    world = make_world(T0)
    await form_sent(world)
    await returned(world, fill_form(the_form(world), school_answers(date(2026, 9, 15))))
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN)["sdq_score"] == 14

    # a week later the school sends the form again with only the attendance updated
    world.clock.advance(timedelta(days=1))
    later = fill_form(the_form(world), SchoolReturn(attendance_percent=Decimal("97.5")))
    outcome = await returned(world, later)
    report = world.casework.returns.report(outcome.details["schoolReturnId"])
    assert report.status == "pending"
    assert report.changes == [{"field": "attendance_percent", "before": "96.2", "after": "97.5"}]
    assert {"sdq_score", "wellbeing", "targets"} <= set(report.kept)
    lines = "\n".join(report.lines())
    assert "CHANGED Attendance" in lines and "96.2 -> 97.5" in lines
    # the first return's answers are not wiped while the second waits
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN)["attendance_percent"] == "96.2"

    await decide(world, report.return_id, "accept", actor="ST-0030")
    school = world.store.section(PEP, PepSection.SCHOOL_RETURN)
    assert (school["attendance_percent"], school["sdq_score"], school["wellbeing"]) == ("97.5", 14, "Settled, friendships growing")
    saved = [a for a in world.store.audit_entries("pep", PEP) if a.action == "save-section:school-return"]
    assert saved[-1].actor_id == "ST-0030" and saved[-1].diff == {"attendance_percent": ["96.2", "97.5"]}


async def test_an_older_version_opens_with_its_own_password_and_is_flagged(make_world):
    world = make_world(T0)
    key = await form_sent(world)
    v1 = the_form(world, 1)
    # the council re-issues the form (version 2) the next day
    world.clock.advance(timedelta(days=1))
    world.casework.context.keep_document(world.store.pep(PEP), DocumentKind.FORM, v1)
    p1, _ = world.casework.document_password(PEP, DocumentKind.FORM, 1)
    p2, _ = world.casework.document_password(PEP, DocumentKind.FORM, 2)
    assert p1 != p2

    outcome = await returned(world, protect(fill_form(v1, school_answers(date(2026, 9, 15))), p1))
    report = world.casework.returns.report(outcome.details["schoolReturnId"])
    assert report.version_note == (
        "this is the form sent on Monday 14 September 2026 (version 1), not the latest "
        "(version 2, sent on Tuesday 15 September 2026)"
    )
    assert report.flag_count == 1 and active(world, key) == REVIEWING
    assert world.store.returns.get(report.return_id).form_version == 1

    with pytest.raises(WrongPassword, match="any of the 2 version"):
        world.casework.receive_school_form(PEP, protect(fill_form(v1, school_answers(date(2026, 9, 16))), "not-ours-1234"), actor=DT)


async def test_a_return_for_a_final_pep_is_refused_with_what_to_do(make_world):
    world = make_world(T0)
    await form_sent(world)
    data = fill_form(the_form(world), school_answers(date(2026, 9, 15)))
    for status in (PepStatus.FORM_RETURNED, PepStatus.MEETING_HELD, PepStatus.TYPED_UP):
        world.store.update_pep(PEP, actor="test", status=status)
    world.store.update_pep(PEP, actor="test", status=PepStatus.FINAL, finalised_at=world.clock.now())
    before = world.store.documents(PEP)
    with pytest.raises(EventRefused) as refused:
        world.events.form_returned(PEP, data, actor=DT)
    message = str(refused.value)
    assert "already final" in message and "correction" in message and f"pep correct {PEP}" in message
    assert world.store.documents(PEP) == before and world.store.returns.for_pep(PEP) == []
    with pytest.raises(ValueError, match="already final"):
        SchoolReturns(world.casework).receive(PEP, data, actor=DT)


async def test_a_return_for_a_cancelled_pep_is_refused_and_nothing_kept(make_world):
    world = make_world(T0)
    await form_sent(world)
    data = fill_form(the_form(world), school_answers(date(2026, 9, 15)))
    world.store.update_pep(PEP, actor="test", status=PepStatus.CANCELLED)
    before = world.store.documents(PEP)
    with pytest.raises(EventRefused, match=f"{PEP} was cancelled: a returned form cannot be taken in"):
        world.events.form_returned(PEP, data, actor=DT)
    assert world.store.documents(PEP) == before and world.store.returns.for_pep(PEP) == []


async def test_a_flagged_form_returned_before_it_was_asked_for_is_reviewed_not_skipped(make_world):
    """The school returns the initial PEP form it got at entry at once, with an answer
    the form cannot read. When the process reaches the form, it does not ask again; it
    took such a return as taken in, so the school's answers never reached the PEP and
    no review task was made (seen in a simulated year: a final PEP without them). Now
    the process waits for it as for a return on time: the kept message is taken in at
    once and business support reviews it."""
    world = make_world(T0)
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    outcome = await returned(world, with_attendance(fill_form(the_form(world), school_answers(date(2026, 9, 15))), "ninety"))
    assert outcome.details["needsReview"] is True and outcome.correlated_instances == ()
    world.new_mail()
    await complete(world, key, "ArrangeInitialMeetingTask", ARRANGED_C0001, actor="ST-0001")
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    assert active(world, key) == REVIEWING
    assert variables(world, key)["schoolReturnId"] == outcome.details["schoolReturnId"]
    assert not [m for _, m in world.new_mail() if m.recipients == OAKRIDGE_DT]  # never asked for it again
    assert world.store.pep(PEP).status == PepStatus.FORM_SENT
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN) is None
    await decide(world, outcome.details["schoolReturnId"], "accept", actor="ST-0030")
    assert active(world, key) == ["MeetingWaitGateway", "TermlyCycleSubProcess"]
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN)["sdq_score"] == 14
    assert world.store.pep(PEP).status == PepStatus.FORM_RETURNED


async def test_a_form_returned_before_it_was_asked_for_and_already_reviewed_goes_straight_on(make_world):
    """Business support accepted the early return on the review page before the process
    reached it: nothing is asked again and nothing waits. The form was taken in when it
    was accepted, and stays taken in then: the process reaching it later wrote the moment
    again (found by the model-based test: "taken in 2 times")."""
    world = make_world(T0)
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    outcome = await returned(world, with_attendance(fill_form(the_form(world), school_answers(date(2026, 9, 15))), "ninety"))
    await decide(world, outcome.details["schoolReturnId"], "accept", actor="ST-0030")
    taken_in = world.store.pep(PEP).form_returned_at
    assert taken_in == world.clock.now()
    await advance_to(world, world.clock.now() + timedelta(hours=2))
    await complete(world, key, "ArrangeInitialMeetingTask", ARRANGED_C0001, actor="ST-0001")
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    assert active(world, key) == ["MeetingWaitGateway", "TermlyCycleSubProcess"]
    assert "ReviewReturnedFormTask" not in elements(world, key, "ACTIVATED")
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN)["sdq_score"] == 14
    assert world.store.pep(PEP).form_returned_at == taken_in
    writes = [a for a in world.store.audit_entries("pep", PEP) if a.action == "update" and "form_returned_at" in a.diff]
    assert len(writes) == 1


async def test_a_form_returned_before_it_was_asked_for_and_asked_again_is_awaited_not_taken_in(make_world):
    """Business support asked the school again about its early return (review list)
    before the process reached the form. The process took any such return as taken
    in: the PEP said "form returned", no reminder went, and the school's next return
    was awaited by nobody. Now it waits for the next return, as after a query in the
    review task: the kept message of the queried return takes nothing in, the
    reminder goes if nothing comes, and the next return is reviewed."""
    world = make_world(T0)
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    first = await returned(world, with_attendance(fill_form(the_form(world), school_answers(date(2026, 9, 15))), "ninety"))
    await decide(world, first.details["schoolReturnId"], "ask-again", actor="ST-0030", query="Attendance as a percentage, please.")
    world.new_mail()
    await complete(world, key, "ArrangeInitialMeetingTask", ARRANGED_C0001, actor="ST-0001")
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    assert active(world, key) == WAITING
    assert variables(world, key)["returnAskedAgain"] is True
    assert "SchoolFormTakenInEndEvent" not in elements(world, key)
    assert world.store.pep(PEP).status == PepStatus.FORM_SENT and world.store.section(PEP, PepSection.SCHOOL_RETURN) is None
    assert not [m for _, m in world.new_mail() if m.recipients == OAKRIDGE_DT and m.attachments]  # not sent again

    # nothing came by the reminder date: "not yet received" goes (after a query it does)
    await advance_to(world, datetime.fromisoformat(variables(world, key)["formReminderAt"].replace("Z", "+00:00")))
    assert "pep-form-reminder" in mail_kinds(world, PEP)

    # the school's answer to the query is reviewed, then taken in
    second = await returned(world, fill_form(the_form(world), school_answers(date(2026, 9, 17))))
    assert active(world, key) == REVIEWING and variables(world, key)["schoolReturnId"] == second.details["schoolReturnId"]
    await decide(world, second.details["schoolReturnId"], "accept", actor="ST-0030")
    assert active(world, key) == ["MeetingWaitGateway", "TermlyCycleSubProcess"]
    assert world.store.section(PEP, PepSection.SCHOOL_RETURN)["attendance_percent"] == "96.2"
    assert world.store.pep(PEP).status == PepStatus.FORM_RETURNED


async def test_the_review_task_is_due_by_the_meeting(make_world):
    """Found by the model-based test once schools returned flagged forms: the review
    task had no due date, so Tasklist and the task list showed business support no
    deadline. The meeting never waits for the form and ends the task, so the review is
    due when the meeting starts."""
    world = make_world(T0)
    key = await form_sent(world)
    await returned(world, with_attendance(fill_form(the_form(world), school_answers(date(2026, 9, 15))), "ninety"))
    task = the_task(world, key, "ReviewReturnedFormTask")
    meeting_at = datetime.fromisoformat(variables(world, key)["meetingAt"].replace("Z", "+00:00"))
    assert task.due_date == MEETING_C0001 == meeting_at

