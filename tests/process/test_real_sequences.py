"""The PEP process in the sequences real casework produces (issue 10): events early,
late, twice, out of order and in holidays; people who never act. Each test is a
sequence that once did something silently wrong."""

from datetime import date, timedelta

import pytest

from pepflow.domain.enums import DocumentKind, MailStatus, PepStatus
from pepflow.documents.fill import fill_form
from pepflow.engine.errors import InvalidVariables
from pepflow.events import EventRefused
from pepflow.store import ClosedPep

from .conftest import T0
from .helpers import (
    ARRANGED_C0001, FERNHOLLOW_DT, KESTREL_DT, OAKRIDGE_DT, PEP_COORDINATOR, SW_PART_DONE, active, advance_to,
    complete, elements, local, school_answers, start, the_task, variables, z,
)


def snapshot(world, pep_id):
    """Everything a final PEP is: its record, its sections, its documents."""
    store = world.store
    return (
        store.pep(pep_id),
        {s: store.section(pep_id, s) for s in ("social-worker", "school-return", "meeting-record")},
        [(d.kind, d.version, d.sha256) for d in store.documents(pep_id)],
    )


async def c0001_arranged(world, meeting_at="2026-09-22T13:30:00Z"):
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14")
    await world.runtime.run_until_idle()
    await complete(world, key, "ArrangeInitialMeetingTask", {**ARRANGED_C0001, "meetingAt": meeting_at}, actor="ST-0001")
    return key


async def finalise(world, key, next_dates):
    """From the meeting to the final PEP, the next PEP dates as given."""
    dates = [d[:10] for d in next_dates]  # the form's fields are dates (its expression computes the list)
    await complete(world, key, "RecordMeetingTask", {
        "attendeeIds": ["ES-0001", "CT-0006", "ST-0001"], "nextPepDate1": dates[0],
        **({"nextPepDate2": dates[1]} if len(dates) > 1 else {}),
    }, actor="ST-0001")
    await complete(world, key, "TypeUpPepTask", {"typedUp": True}, actor="ST-0011")
    await complete(world, key, "CheckAndFinalisePepTask", {"pepApproved": True}, actor="ST-0001")


# ----------------------------------------------------------- a final PEP is never reused
async def test_a_next_pep_in_the_term_of_a_final_one_is_a_new_record_and_its_form_goes(make_world):
    world = make_world(T0)
    key = await c0001_arranged(world)
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    await advance_to(world, local(2026, 9, 22, 14, 30))
    await advance_to(world, local(2026, 9, 23, 10))
    # the meeting sets the next PEP later in the same autumn term
    await finalise(world, key, ["2026-11-18T10:00:00Z", "2027-03-10T10:00:00Z"])
    final = "PEP-C-0001-2026-AUT"
    assert world.store.pep(final).status == PepStatus.FINAL
    before = snapshot(world, final)

    nxt = variables(world, key)["pepId"]
    assert nxt == "PEP-C-0001-2026-AUT-2"  # a new record, not the final one again
    assert world.store.pep(nxt).meeting_at == local(2026, 11, 18, 9)  # a date field: 09:00
    world.new_mail()
    # three school weeks before Wednesday 18 November (half term 26-30 October between)
    await advance_to(world, local(2026, 10, 21, 9))
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    forms = [m for _, m in world.new_mail() if m.subject.startswith(f"PEP form {nxt}:")]
    assert [m.recipients for m in forms] == [OAKRIDGE_DT]
    assert [a.filename for a in forms[0].attachments] == [f"{nxt}-form-v1.docx"]
    await advance_to(world, local(2026, 11, 30, 9))
    assert snapshot(world, final) == before  # the final PEP did not change
    with pytest.raises(ClosedPep):
        world.store.update_pep(final, meeting_at=local(2027, 1, 20, 10), actor="ST-0001")


# ------------------------------------------------------------- meeting dates a person enters
@pytest.mark.parametrize(("meeting_at", "reason"), [
    ("2026-12-25T10:00:00Z", "Christmas Day, a bank holiday"),
    ("2026-10-03T09:00:00Z", "it is a Saturday"),
    ("2026-10-28T09:00:00Z", "in the autumn half term"),
    ("2026-11-27T10:00:00Z", "INSET"),
    ("2026-12-30T10:00:00Z", "school holidays"),
    ("2026-09-11T10:00:00Z", "in the past"),
])
async def test_a_meeting_on_a_day_the_school_is_closed_is_refused_with_the_reason(make_world, meeting_at, reason):
    world = make_world(T0)
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14")
    await world.runtime.run_until_idle()
    world.new_mail()
    task = the_task(world, key, "ArrangeInitialMeetingTask")
    with pytest.raises(InvalidVariables) as refused:
        world.engine.complete_user_task(task.user_task_key, {**ARRANGED_C0001, "meetingAt": meeting_at}, actor="ST-0001")
    if reason == "in the past":  # the form's own rule (disallowPassedDates) refuses it first
        assert "Meeting date must not be in the past" in str(refused.value)
    else:
        assert reason in str(refused.value) and "The next school day at Oakridge" in str(refused.value)
        assert refused.value.problems[0].startswith("meetingAt: ")
    await world.runtime.run_until_idle()
    assert active(world, key) == ["ArrangeInitialMeetingTask"]  # nothing moved
    assert world.store.pep("PEP-C-0001-2026-AUT").meeting_at is None and world.new_mail() == []


async def test_next_pep_dates_in_the_holidays_are_refused_at_the_meeting(make_world):
    world = make_world(T0)
    key = await c0001_arranged(world)
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    await advance_to(world, local(2026, 9, 23, 10))
    task = the_task(world, key, "RecordMeetingTask")
    with pytest.raises(InvalidVariables, match="Monday 28 December 2026 cannot be used"):
        world.engine.complete_user_task(task.user_task_key, {
            "attendeeIds": ["ES-0001"], "nextPepDate1": "2026-12-28",
        }, actor="ST-0001")
    # a year whose term dates nobody loaded: refused naming the setting and the year
    with pytest.raises(InvalidVariables, match="no term dates are loaded for Oakridge Primary School .* in 2028/29"):
        world.engine.complete_user_task(task.user_task_key, {
            "attendeeIds": ["ES-0001"], "nextPepDate1": "2028-10-04",
        }, actor="ST-0001")
    assert active(world, key) == ["RecordMeetingTask", "TermlyCycleSubProcess"]
    assert world.store.pep("PEP-C-0001-2026-AUT").status == PepStatus.FORM_SENT  # no meeting recorded


async def test_on_camunda_8_the_process_itself_sends_a_bad_date_back_to_the_worker(make_world):
    """Tasklist completes the task with whatever was typed; the next step applies the
    same rule and the task comes back with the reason as codes and dates."""
    world = make_world(T0)
    world.engine._completion_checks.clear()  # as on Camunda 8: no check before completion
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14")
    await world.runtime.run_until_idle()
    world.new_mail()
    await complete(world, key, "ArrangeInitialMeetingTask", {**ARRANGED_C0001, "meetingAt": "2026-12-25T10:00:00Z"}, actor="ST-0001")
    assert active(world, key) == ["ArrangeInitialMeetingTask"]
    assert elements(world, key).count("CheckInitialMeetingDateTask") == 1
    v = variables(world, key)
    assert (v["meetingDateProblem"], v["meetingDateRefusedOn"], v["meetingDateNextValid"]) == ("bank-holiday", "2026-12-25", "2027-01-05")
    assert world.new_mail() == []  # the PEP co-ordinator is not told of a date that cannot be
    await complete(world, key, "ArrangeInitialMeetingTask", ARRANGED_C0001, actor="ST-0001")
    assert variables(world, key)["meetingDateProblem"] is None
    [(_, arranged)] = world.new_mail()
    assert arranged.recipients == PEP_COORDINATOR


# -------------------------------------------------------------------- events early or twice
async def test_a_form_returned_early_is_taken_in_once_and_never_asked_for_again(make_world):
    world = make_world(T0)
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14")
    await world.runtime.run_until_idle()
    pep_id = "PEP-C-0001-2026-AUT"
    # the school fills in the initial PEP form it got at entry and returns it at once,
    # before the meeting is even arranged
    [form] = world.store.documents(pep_id, DocumentKind.FORM)
    filled = fill_form(world.store.document_content(form.id), school_answers(date(2026, 9, 15)))
    await advance_to(world, local(2026, 9, 15, 11))
    outcome = world.events.form_returned(pep_id, filled, actor="ES-0001 designated teacher")
    assert outcome.correlated_instances == ()  # nothing waits for it yet: the fact is kept
    with pytest.raises(EventRefused, match="already taken in"):
        world.events.form_returned(pep_id, filled, actor="ES-0001 designated teacher")
    world.new_mail()
    await complete(world, key, "ArrangeInitialMeetingTask", ARRANGED_C0001, actor="ST-0001")
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    # no second form, no await, no reminder: straight on to the meeting
    assert active(world, key) == ["MeetingWaitGateway", "TermlyCycleSubProcess"]
    sent = world.new_mail()
    assert [m for _, m in sent if m.recipients == OAKRIDGE_DT] == []
    await advance_to(world, local(2026, 9, 22, 14, 30))
    assert "RecordMeetingTask" in active(world, key)
    assert world.store.pep(pep_id).status == PepStatus.FORM_RETURNED
    assert [d.version for d in world.store.documents(pep_id, DocumentKind.FORM)] == [1]
    assert "SendFormReminderTask" not in elements(world, key)
    assert not [m for _, m in world.new_mail() if m.recipients == OAKRIDGE_DT]


async def test_a_change_of_school_before_the_initial_meeting_is_arranged_is_not_lost(make_world):
    world = make_world(T0)
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14")
    await world.runtime.run_until_idle()
    world.new_mail()
    # Poppy moves to Kestrel Park on Thursday 17 September, before the meeting is arranged
    await advance_to(world, local(2026, 9, 17, 9))
    outcome = world.events.setting_changed("C-0001", "ES-0004", date(2026, 9, 17), actor="ST-0001")
    assert outcome.correlated_instances == ()  # kept until the termly cycle starts
    await complete(world, key, "ArrangeInitialMeetingTask", {**ARRANGED_C0001, "meetingAt": "2026-09-24T13:30:00Z"}, actor="ST-0001")
    old, new = "PEP-C-0001-2026-AUT", "PEP-C-0001-2026-AUT-2"
    assert world.store.pep(old).status == PepStatus.CANCELLED
    pep = world.store.pep(new)
    assert (pep.setting_id, pep.is_initial) == ("ES-0004", True)
    # within 10 working days of the move, on a school day at the new school
    assert pep.meeting_at == local(2026, 10, 1, 10)
    assert variables(world, key)["pepId"] == new
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    forms = [m for _, m in world.new_mail() if m.subject.startswith("PEP form")]
    assert [m.recipients for m in forms] == [KESTREL_DT]


async def test_naming_the_school_the_child_already_attends_changes_nothing(make_world):
    world = make_world(T0)
    key = await c0001_arranged(world)
    before = world.store.pep("PEP-C-0001-2026-AUT")
    with pytest.raises(EventRefused, match="already attends Oakridge Primary School .* since"):
        world.events.setting_changed("C-0001", "ES-0001", date(2026, 9, 14), actor="ST-0001")
    await world.runtime.run_until_idle()
    assert world.store.pep("PEP-C-0001-2026-AUT") == before
    assert "ScheduleSettingChangePepTask" not in elements(world, key)


async def test_the_process_picks_a_school_day_when_the_deadline_falls_in_the_holidays(make_world):
    """Ten working days after Monday 14 December is Wednesday 30 December (once picked);
    the last school day at the new school before it is Friday 18 December."""
    world = make_world(local(2026, 12, 14, 9))
    key = start(world, "child-already-in-care", "C-0002")
    await world.runtime.run_until_idle()
    world.events.setting_changed("C-0002", "ES-0004", date(2026, 12, 14), actor="ST-0002")
    await world.runtime.run_until_idle()
    pep = world.store.pep(variables(world, key)["pepId"])
    assert (pep.setting_id, pep.meeting_at) == ("ES-0004", local(2026, 12, 18, 10))
    assert world.store.school_calendar_for("ES-0004").is_school_day(date(2026, 12, 18))


async def test_events_that_contradict_the_record_are_refused_and_record_nothing(make_world):
    world = make_world(T0)
    audit = len(world.store.audit_entries())
    with pytest.raises(EventRefused, match="before C-0001's date of birth"):
        world.events.looked_after("C-0001", date(2015, 1, 1), actor="ST-0001")
    with pytest.raises(EventRefused, match="in the future"):
        world.events.looked_after("C-0001", date(2026, 9, 30), actor="ST-0001")
    with pytest.raises(EventRefused, match="before C-0002 entered care on Monday 21 September 2026"):
        world.events.left_care("C-0002", date(2026, 9, 14), actor="ST-0002")
    assert len(world.store.audit_entries()) == audit
    start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14")
    with pytest.raises(EventRefused, match="already recorded"):
        world.events.looked_after("C-0001", date(2026, 9, 14), actor="ST-0001")
    with pytest.raises(EventRefused, match="before C-0001 entered care"):
        world.events.left_care("C-0001", date(2026, 9, 1), actor="ST-0001")


async def test_a_school_without_term_dates_is_refused_when_the_move_is_recorded(make_world):
    world = make_world(T0)
    await c0001_arranged(world)
    # a planned move into 2027/28's autumn term is fine (the council's 2027/28 dates exist);
    # a school with no dates of its own falls back on the council's, so the year decides
    audit = len(world.store.audit_entries())
    from pepflow.events import MAX_DAYS_AHEAD

    far = date(2026, 9, 14) + timedelta(days=MAX_DAYS_AHEAD + 1)
    with pytest.raises(EventRefused, match="more than 120 days ahead"):
        world.events.setting_changed("C-0001", "ES-0004", far, actor="ST-0001")
    assert len(world.store.audit_entries()) == audit


async def test_an_entry_into_care_in_a_year_without_term_dates_is_refused_naming_it(make_world):
    world = make_world(local(2028, 9, 18, 9))  # 2028/29: no term dates in the sample data
    world.events.left_care("C-0002", date(2027, 7, 1), reason="returned home", actor="ST-0002")
    with pytest.raises(EventRefused, match=r"no term dates are loaded for the council \(default term dates\) in 2028/29"):
        world.events.looked_after("C-0002", date(2028, 9, 18), actor="ST-0002")
    assert world.engine.instances() == [] and world.store.current_care_episode("C-0002") is None


# ------------------------------------------------------------------ leaving care: silence
async def test_after_leaving_care_nothing_queued_for_the_child_is_sent(make_world):
    world = make_world(T0)
    key = await c0001_arranged(world)
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    await advance_to(world, local(2026, 9, 23, 10))
    # the final PEP goes to three attendees, but the relay is down: it waits, queued
    from pepflow.mail.transport import TransientMailError

    world.mailer.fail_with = [TransientMailError("421 try again later") for _ in range(10)]
    await finalise(world, key, ["2027-01-20T10:00:00Z"])
    waiting = [m for m in world.store.mail_summaries("PEP-C-0001-2026-AUT") if m.status == MailStatus.QUEUED]
    assert len(waiting) == 3
    world.mailer.fail_with = []
    world.events.left_care("C-0001", date(2026, 9, 23), reason="returned home", actor="ST-0001")
    await world.runtime.run_until_idle()
    assert world.engine.instance(key).state == "COMPLETED"
    sent_before = len(world.mailer.sent)
    await advance_to(world, local(2027, 2, 1, 9))
    assert len(world.mailer.sent) == sent_before
    statuses = {m.status for m in world.store.mail_summaries("PEP-C-0001-2026-AUT") if m.kind == "final-pep"}
    assert statuses == {MailStatus.WITHDRAWN}
    spring = [p for p in world.store.peps_for("C-0001") if p.id.startswith("PEP-C-0001-2026-SPR")]
    assert all(p.status == PepStatus.CANCELLED for p in spring)


async def test_a_final_pep_refuses_a_late_form_and_says_so(make_world):
    world = make_world(T0)
    key = await c0001_arranged(world)
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    [form] = world.store.documents("PEP-C-0001-2026-AUT", DocumentKind.FORM)  # one version of the initial PEP's form
    await advance_to(world, local(2026, 9, 23, 10))
    await finalise(world, key, ["2027-01-20T10:00:00Z"])
    late = fill_form(world.store.document_content(form.id), school_answers(date(2026, 9, 24)))
    with pytest.raises(EventRefused, match="PEP-C-0001-2026-AUT is already final .* cannot change it.*open a correction"):
        world.events.form_returned("PEP-C-0001-2026-AUT", late, actor="ES-0001 designated teacher")


# --------------------------------------------------------------------- young child, no setting
async def test_the_health_visitor_and_carers_are_written_to_as_such(make_world):
    world = make_world(local(2026, 10, 5, 9))
    start(world, "child-entered-care-emergency", "C-0005", enteredCareOn="2026-10-05")
    await world.runtime.run_until_idle()
    initial = [m for _, m in world.new_mail() if m.subject.startswith("Initial PEP")]
    greetings = sorted(m.text_body.splitlines()[0] for m in initial)
    assert greetings == ["Dear Health Visitor,", "Dear foster carer,", "Dear foster carer,", "Dear parent,"]
    for mail in initial:
        body = mail.text_body + (mail.html_body or "")
        assert "Designated Teacher" not in body and "at your setting" not in body
        assert "A young child you support" in mail.text_body


async def test_the_first_cla_review_setting_moves_the_initial_meeting_deadline(make_world):
    from dataclasses import replace

    world = make_world(T0)
    settings = world.casework.config.settings.model_copy(update={"initial_cla_review_working_days": 8})
    world.casework.config = replace(world.casework.config, settings=settings)
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14")
    await world.runtime.run_until_idle()
    # ten working days would be 28 September; the review within eight comes first (24th),
    # so the meeting must be by the working day before it
    assert variables(world, key)["initialMeetingDueAt"] == z(local(2026, 9, 23, 17))


async def test_an_entry_recorded_late_escalates_once_and_reminds_nobody_of_a_day_gone_by(make_world):
    entered = "2026-09-21"  # recorded three weeks later; the meeting was due by 5 October
    world = make_world(local(2026, 10, 12, 9))
    start(world, "child-looked-after", "C-0002", enteredCareOn=entered)
    await world.runtime.run_until_idle()
    mail = world.new_mail()
    kinds = sorted(m.subject.split(":")[0] for _, m in mail)
    assert "Reminder" not in kinds
    overdue = [m for _, m in mail if m.subject.startswith("Overdue: initial PEP meeting")]
    assert [m.recipients for m in overdue] == [PEP_COORDINATOR]
    assert "no reminder went to the worker" in overdue[0].text_body
    await advance_to(world, local(2026, 10, 16, 9))
    assert not [m for _, m in world.new_mail() if "Overdue" in m.subject or "Reminder" in m.subject]
    assert FERNHOLLOW_DT in [m.recipients for _, m in mail]


async def test_a_final_pep_is_corrected_as_a_new_version_sent_to_every_attendee_once(make_world):
    from pepflow.corrections import CorrectionRefused, correct_final_pep

    world = make_world(T0)
    key = await c0001_arranged(world)
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    await advance_to(world, local(2026, 9, 23, 10))
    await finalise(world, key, ["2027-01-20T10:00:00Z"])
    pep_id = "PEP-C-0001-2026-AUT"
    [v1] = world.store.documents(pep_id, DocumentKind.FINAL)
    v1_bytes = world.store.document_content(v1.id)
    world.new_mail()
    with pytest.raises(CorrectionRefused, match="say why"):
        await correct_final_pep(world.casework, pep_id, "meeting-record", {"next_meeting_dates": ["2027-01-21"]}, reason="", actor="ST-0011")
    with pytest.raises(CorrectionRefused, match="no field"):
        await correct_final_pep(world.casework, pep_id, "meeting-record", {"colour": "red"}, reason="typo in the date", actor="ST-0011")
    version = await correct_final_pep(
        world.casework, pep_id, "meeting-record", {"next_meeting_dates": ["2027-01-21"]},
        reason="the next PEP was agreed for Thursday, not Wednesday", actor="ST-0011",
    )
    await world.runtime.run_until_idle()
    assert version == 2
    finals = world.store.documents(pep_id, DocumentKind.FINAL)
    assert [d.version for d in finals] == [1, 2]
    assert world.store.document_content(v1.id) == v1_bytes  # the version sent stays as it was
    corrected = [m for _, m in world.new_mail()]
    assert sorted(m.recipients for m in corrected) == sorted([OAKRIDGE_DT, ("beryl.kindlewood@carers.example.org",), ("amira.quillfeather@council.example.org",)])
    assert all(m.subject.startswith(f"Corrected final PEP {pep_id}, version 2") for m in corrected)
    assert all([a.filename for a in m.attachments] == [f"{pep_id}-final-v2.docx"] for m in corrected)
    audit = [a for a in world.store.audit_entries("pep", pep_id) if a.action == "correct-section:meeting-record"]
    assert audit and audit[0].diff["correction_reason"][1].startswith("the next PEP was agreed")
    assert world.store.pep(pep_id).status == PepStatus.FINAL


async def test_a_pep_nobody_types_up_is_escalated_by_the_councils_standard_and_closes_when_final(make_world):
    world = make_world(T0)
    key = await c0001_arranged(world)
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    await advance_to(world, local(2026, 9, 23, 10))
    await complete(world, key, "RecordMeetingTask", {
        "attendeeIds": ["ES-0001"], "nextPepDate1": "2027-01-20",
    }, actor="ST-0001")
    pep_id = "PEP-C-0001-2026-AUT"
    due = variables(world, key)["finaliseDueAt"]
    # 20 school days after Tuesday 22 September, half term (26-30 October) not counted
    assert due == z(local(2026, 10, 20, 17))
    assert the_task(world, key, "TypeUpPepTask").due_date == local(2026, 10, 20, 17)
    world.new_mail()
    await advance_to(world, local(2026, 10, 20, 16, 59))
    assert world.new_mail() == []
    await advance_to(world, local(2026, 10, 20, 17))
    [(_, late)] = world.new_mail()
    assert late.recipients == PEP_COORDINATOR and late.subject == f"Late: the final PEP for {pep_id} (due Tuesday 20 October 2026)"
    assert "Business support owns this step" in late.text_body
    [escalation] = world.store.escalations.open(pep_id)
    assert escalation.kind == "final-pep-late"
    # typed up late, checked: still late, but told once only
    await complete(world, key, "TypeUpPepTask", {"typedUp": True}, actor="ST-0011")
    assert world.new_mail() == []
    await complete(world, key, "CheckAndFinalisePepTask", {"pepApproved": True}, actor="ST-0001")
    assert world.store.escalations.open(pep_id) == []
    assert [e.resolution for e in world.store.escalations.for_pep(pep_id)] == ["PEP final"]
