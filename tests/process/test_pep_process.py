"""Process tests of the PEP diagram (bpmn/pep.bpmn) on the embedded engine, with the
real workers, casework, records store, Word documents and a recording mailer, on a
simulation clock. Every test runs on SQLite and on PostgreSQL.

Each test walks one variant of the council's flowchart (docs/process-contract.md),
asserting after every step and clock move: the active elements, the mail sent (to
whom, what subject, what attachment), the documents kept and the audit trail; timers
are checked against hand-worked calendar dates (docs/calendar.md, term dates in
pepflow/sample_data/term-dates.csv). Some tests stop and restart the whole product on
the same database in the middle (``world.restart()``).
"""

from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from pepflow.calendar import WorkingDays
from pepflow.documents import WrongPep, protection_info, unprotect
from pepflow.documents.fill import fill_form
from pepflow.domain.enums import DocumentKind, MailStatus, PepSection, PepStatus

from .conftest import T0, PepWorld
from .helpers import (
    AMIRA_SW, ARRANGED_C0001, C0001_CARER, INITIAL_STEPS,
    LOGIN, LONDON, MEETING_C0001, OAKRIDGE_DT, PEP_COORDINATOR, SW_PART_DONE, VIRTUAL_SCHOOL, active, advance_to,
    attachments, complete, documents, elements, fired_at, local, mail_kinds, return_by_in,
    school_answers, start, status_changes, the_task, variables, z,
)


async def c0001_form_sent(world: PepWorld) -> int:
    """C-0001 (1a) up to the initial PEP form being with the designated teacher."""
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    await complete(world, key, "ArrangeInitialMeetingTask", ARRANGED_C0001, actor="ST-0001")
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    assert active(world, key) == ["AwaitSchoolFormSubProcess", "SchoolFormReturnedEvent", "TermlyCycleSubProcess"]
    return key


async def test_1a_planned_entry_sends_the_initial_pep_tells_the_virtual_school_and_the_pep_coordinator(make_world):
    world = make_world(T0)  # Monday 14 September 2026, 09:00 in England
    pep_id = "PEP-C-0001-2026-AUT"
    published = world.engine.publish_message(
        "child-looked-after", "C-0001", {"childId": "C-0001", "enteredCareOn": "2026-09-14", "emergency": False}
    )
    [key] = published.started_instances
    assert active(world, key) == ["InitiatePepTask"]

    # box 1: the PEP is initiated, sent to the designated teacher, the Virtual School told
    await world.runtime.run_until_idle()
    assert active(world, key) == ["ArrangeInitialMeetingTask"]
    assert {"ChildLookedAfterStartEvent", *INITIAL_STEPS, "VirtualSchoolNotifiedEndEvent"} <= set(elements(world, key))
    assert "EmergencyEntryStartEvent" not in elements(world, key)
    v = variables(world, key)
    assert {k: v[k] for k in (
        "pepId", "careEpisodeId", "settingId", "variant", "hasSettingInput", "ownerRole", "ownerAssignee",
        "ownerCandidateGroups", "businessSupportGroups", "contactOptions", "isInitial", "initialMeetingDueAt",
        "initialMeetingReminderAt",
    )} == {
        "pepId": pep_id, "careEpisodeId": "CE-0001-1", "settingId": "ES-0001", "variant": "school-age",
        "hasSettingInput": True, "ownerRole": "social-worker", "ownerAssignee": LOGIN["ST-0001"],
        "ownerCandidateGroups": [], "businessSupportGroups": ["business-support-north"], "isInitial": True,
        "initialMeetingDueAt": z(local(2026, 9, 28, 17)), "initialMeetingReminderAt": z(local(2026, 9, 23, 9)),
        # the arrange-initial-meeting form's options, for Tasklist: roles and references, no names
        "contactOptions": [
            {"label": "Designated teacher (ES-0001)", "value": "ES-0001"},
            {"label": "Foster carer (CT-0006)", "value": "CT-0006"},
            {"label": "Social worker (ST-0001)", "value": "ST-0001"},
        ],
    }

    mail = {m.recipients: (at, m) for at, m in world.new_mail()}
    assert set(mail) == {VIRTUAL_SCHOOL, OAKRIDGE_DT}
    at, notice = mail[VIRTUAL_SCHOOL]
    assert at == T0 and notice.subject == f"New child in care: {pep_id}" and attachments(notice) == []
    at, initial = mail[OAKRIDGE_DT]
    assert at == T0
    assert initial.subject == f"Initial PEP {pep_id}: meeting to be held by Monday 28 September 2026"
    assert attachments(initial) == [f"{pep_id}-form-v1.docx"]
    [form] = world.store.documents(pep_id)
    assert (form.kind, form.version, form.filename) == (DocumentKind.FORM, 1, f"{pep_id}-form-v1.docx")
    # the file that leaves the council is password-protected (AES-256 agile), opens with
    # the document's password, and the e-mail never carries that password
    password, version = world.casework.document_password(pep_id, DocumentKind.FORM)
    assert version == 1
    assert initial.attachments[0].data != world.store.document_content(form.id)
    info = protection_info(initial.attachments[0].data)
    assert (info.method, info.cipher, info.key_bits, info.spin_count) == ("agile", "AES", 256, 100_000)
    assert unprotect(initial.attachments[0].data, password) == world.store.document_content(form.id)
    assert password not in initial.text_body + (initial.html_body or "")
    assert "telephone" in initial.text_body

    pep = world.store.pep(pep_id)
    assert (pep.status, pep.is_initial, pep.care_episode_id, pep.setting_id) == (PepStatus.FORM_SENT, True, "CE-0001-1", "ES-0001")
    assert pep.form_sent_at == T0
    audit = world.store.audit_entries("pep", pep_id)
    assert (audit[0].action, audit[0].actor_id) == ("create", "system")
    assert [a.diff["document"][1]["filename"] for a in audit if a.action == "record-document"] == [f"{pep_id}-form-v1.docx"]
    assert sorted(a.diff["mail"][1]["kind"] for a in audit if a.action == "record-mail") == ["initial-pep", "virtual-school-notice"]
    assert [e.status for e in world.store.mail_log(pep_id)] == [MailStatus.SENT, MailStatus.SENT]

    # box 2: the social worker's task, due ten working days after entry
    task = the_task(world, key, "ArrangeInitialMeetingTask")
    assert (task.assignee, task.form_id, task.due_date) == (LOGIN["ST-0001"], "arrange-initial-meeting", local(2026, 9, 28, 17))

    world.restart()
    # the room is free text: it goes to the records store (the PEP page), not the task
    world.casework.record_venue_details(pep_id, "Meeting room 2", actor="ST-0001")
    await complete(world, key, "ArrangeInitialMeetingTask", ARRANGED_C0001, actor="ST-0001")
    assert active(world, key) == ["CompletePepFormTask", "TermlyCycleSubProcess"]
    assert {"InformPepCoordinatorTask", "InitialPepJoinGateway", "ScheduleTermlyPepTask", "WaitToPrepareEvent"} <= set(elements(world, key))
    [(at, arranged)] = world.new_mail()
    assert arranged.recipients == PEP_COORDINATOR and at == T0
    assert arranged.subject == f"Initial PEP meeting arranged: {pep_id} on Tuesday 22 September 2026"
    assert "14:30" in arranged.text_body and "Meeting room 2" in arranged.text_body and "Oakridge" in arranged.text_body
    pep = world.store.pep(pep_id)
    assert pep.meeting_at == MEETING_C0001 and pep.attendee_ids == ("ES-0001", "CT-0006", "ST-0001")
    assert pep.status == PepStatus.FORM_SENT  # the initial form went at entry
    assert world.store.section(pep_id, PepSection.SOCIAL_WORKER) == {
        "venue_code": "education-setting", "venue_details": "Meeting room 2",
        "venue": "At the education setting (Oakridge Primary School (fictional)): Meeting room 2"}

    # box 3 for an initial PEP: as soon as possible, not three school weeks before; the
    # social worker's part is due in two working days (not overdue as it opens)
    v = variables(world, key)
    assert (v["meetingAt"], v["prepareFromAt"], v["formSendAt"]) == (z(MEETING_C0001), z(T0), z(T0))
    task = the_task(world, key, "CompletePepFormTask")
    assert (task.assignee, task.form_id, task.due_date) == (LOGIN["ST-0001"], "complete-pep-form", local(2026, 9, 16, 17))

    # the meeting is arranged: its reminder and escalation timers are gone; the social
    # worker who never does their part is not left in silence: the PEP co-ordinator is
    # told the day after, and again when the form should have gone
    await world.runtime.advance(timedelta(days=20))
    escalations = world.new_mail()
    assert [(at, m.recipients, m.subject) for at, m in escalations] == [
        (local(2026, 9, 15, 17), PEP_COORDINATOR,
         f"Late: the social worker's part of the PEP form for {pep_id} (due Wednesday 16 September 2026)"),
        (local(2026, 9, 16, 17), PEP_COORDINATOR,
         f"Late: sending the PEP form to the school for {pep_id} (due Wednesday 16 September 2026)"),
    ]
    assert "Amira Quillfeather" in escalations[0][1].text_body  # who owns it
    assert {e.kind for e in world.store.escalations.open(pep_id)} == {"social-worker-part", "form-not-sent"}
    assert active(world, key) == ["CompletePepFormTask", "TermlyCycleSubProcess"]
    assert "InitialMeetingReminderEvent" not in elements(world, key)
    assert "InitialMeetingOverdueEvent" not in elements(world, key)
    # once the part is done the form goes and those escalations close; the meeting date
    # went by meanwhile, so the meeting record is now late too
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    assert {e.kind for e in world.store.escalations.open(pep_id)} == {"meeting-not-recorded"}


async def test_initial_meeting_reminder_then_escalation_to_the_pep_coordinator_on_their_working_days(make_world):
    world = make_world(T0)
    pep_id = "PEP-C-0001-2026-AUT"
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    world.new_mail()
    # entry Monday 14 September: due ten working days later, reminder three working days before
    assert WorkingDays().add_working_days(date(2026, 9, 14), 10) == date(2026, 9, 28)
    v = variables(world, key)
    assert v["initialMeetingDueAt"] == z(local(2026, 9, 28, 17))
    assert v["initialMeetingReminderAt"] == z(local(2026, 9, 23, 9))

    await advance_to(world, local(2026, 9, 23, 8, 59))
    assert world.new_mail() == []
    await advance_to(world, local(2026, 9, 23, 9))
    [(at, reminder)] = world.new_mail()
    assert at == local(2026, 9, 23, 9) and reminder.recipients == AMIRA_SW
    assert reminder.subject == f"Reminder: arrange the initial PEP meeting for {pep_id} by Monday 28 September 2026"
    assert fired_at(world, key, "InitialMeetingReminderEvent") == [local(2026, 9, 23, 9)]
    assert active(world, key) == ["ArrangeInitialMeetingTask"]  # non-interrupting

    world.restart()
    await advance_to(world, local(2026, 9, 28, 16, 59))
    assert world.new_mail() == []
    await advance_to(world, local(2026, 9, 28, 17))
    [(at, overdue)] = world.new_mail()
    assert at == local(2026, 9, 28, 17) and overdue.recipients == PEP_COORDINATOR
    assert overdue.subject == f"Overdue: initial PEP meeting for {pep_id} (due Monday 28 September 2026)"
    assert fired_at(world, key, "InitialMeetingOverdueEvent") == [local(2026, 9, 28, 17)]
    assert {"EscalateToPepCoordinatorTask", "InitialMeetingEscalatedEndEvent"} <= set(elements(world, key))
    assert active(world, key) == ["ArrangeInitialMeetingTask"]

    # nothing fires twice; the worker arranges it late and the process carries on
    await advance_to(world, local(2026, 9, 29, 10))
    assert world.new_mail() == []
    await complete(world, key, "ArrangeInitialMeetingTask")
    assert active(world, key) == ["CompletePepFormTask", "TermlyCycleSubProcess"]
    [(_, arranged)] = world.new_mail()
    assert arranged.recipients == PEP_COORDINATOR and arranged.subject.startswith(f"Initial PEP meeting arranged: {pep_id}")
    assert mail_kinds(world, pep_id) == Counter([
        "virtual-school-notice", "initial-pep", "initial-meeting-reminder", "initial-meeting-overdue", "initial-meeting-arranged",
    ])


# ----------------------------------------------------- 1a, boxes 3 to 7 and the loop
async def test_the_meeting_never_waits_for_the_form_business_support_loop_final_pep_and_next_term(make_world):
    world = make_world(T0)
    pep_id, spring = "PEP-C-0001-2026-AUT", "PEP-C-0001-2026-SPR"
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    await complete(world, key, "ArrangeInitialMeetingTask", ARRANGED_C0001, actor="ST-0001")
    world.new_mail()

    # box 3: the social worker's part, then the form goes to the designated teacher at once
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    assert active(world, key) == ["AwaitSchoolFormSubProcess", "SchoolFormReturnedEvent", "TermlyCycleSubProcess"]
    [(at, form_mail)] = world.new_mail()
    assert (at, form_mail.recipients) == (T0, OAKRIDGE_DT)
    assert form_mail.subject.startswith(f"PEP form {pep_id}: please return by")
    # the same form the setting got at entry: one version of the initial PEP's form
    assert attachments(form_mail) == [f"{pep_id}-form-v1.docx"]
    pep = world.store.pep(pep_id)
    assert (pep.status, pep.form_sent_at) == (PepStatus.FORM_SENT, T0)

    # box 4: nothing came back by the reminder date: the designated teacher is reminded
    reminder_at = datetime.fromisoformat(variables(world, key)["formReminderAt"])
    assert T0 < reminder_at < MEETING_C0001
    await advance_to(world, reminder_at)
    [(at, reminder)] = world.new_mail()
    assert (at, reminder.recipients) == (reminder_at, OAKRIDGE_DT)
    assert reminder.subject.startswith(f"Reminder: PEP form {pep_id} was due back on")
    assert active(world, key) == ["AwaitSchoolFormSubProcess", "SchoolFormReturnedEvent", "TermlyCycleSubProcess"]

    # the meeting starts without the form (MeetingStartsEvent interrupts the wait)
    world.restart()
    await advance_to(world, MEETING_C0001 - timedelta(minutes=1))
    assert "AwaitSchoolFormSubProcess" in active(world, key)
    await advance_to(world, MEETING_C0001)
    assert active(world, key) == ["RecordMeetingTask", "TermlyCycleSubProcess"]
    assert fired_at(world, key, "MeetingStartsEvent") == [MEETING_C0001]
    assert "AwaitSchoolFormSubProcess" in elements(world, key, "TERMINATED")
    assert "TakeInSchoolFormTask" not in elements(world, key)
    assert world.store.pep(pep_id).status == PepStatus.FORM_SENT  # it never came back
    assert the_task(world, key, "RecordMeetingTask").assignee == LOGIN["ST-0001"]

    # box 5: the meeting sets the dates of the remaining PEPs of the year
    await advance_to(world, local(2026, 9, 23, 10))
    await complete(world, key, "RecordMeetingTask", {
        "attendeeIds": ["ES-0001", "CT-0006", "ST-0001"],
        "nextPepDate1": "2027-01-20", "nextPepDate2": "2027-05-12",  # the form computes nextMeetingDates
    }, actor="ST-0001")
    assert active(world, key) == ["TermlyCycleSubProcess", "TypeUpPepTask"]
    task = the_task(world, key, "TypeUpPepTask")
    assert (task.assignee, task.candidate_groups) == (None, ["business-support-north"])

    # box 6: typed up, sent back once by the social worker, typed up again, approved
    await complete(world, key, "TypeUpPepTask", {"typedUp": True}, actor="ST-0011")
    assert active(world, key) == ["CheckAndFinalisePepTask", "TermlyCycleSubProcess"]
    assert the_task(world, key, "CheckAndFinalisePepTask").assignee == LOGIN["ST-0001"]
    await complete(world, key, "CheckAndFinalisePepTask", {"pepApproved": False, "returnReasonCode": "targets-not-smart"}, actor="ST-0001")
    assert active(world, key) == ["TermlyCycleSubProcess", "TypeUpPepTask"]
    assert "PepApprovedGateway" in elements(world, key) and "GenerateFinalPepTask" not in elements(world, key)
    assert world.store.documents(pep_id, DocumentKind.FINAL) == [] and world.new_mail() == []
    world.restart()
    await complete(world, key, "TypeUpPepTask", {"typedUp": True}, actor="ST-0012")
    await complete(world, key, "CheckAndFinalisePepTask", {"pepApproved": True}, actor="ST-0001")
    assert elements(world, key).count("TypeUpPepTask") == 2
    assert elements(world, key).count("CheckAndFinalisePepTask") == 2

    # the final PEP goes securely to every attendee
    final_mail = world.new_mail()
    assert sorted(m.recipients for _, m in final_mail) == sorted([OAKRIDGE_DT, C0001_CARER, AMIRA_SW])
    for at, mail in final_mail:
        assert at == local(2026, 9, 23, 10)
        assert mail.subject == f"Final PEP {pep_id} (meeting of Tuesday 22 September 2026)"
        assert attachments(mail) == [f"{pep_id}-final-v1.docx"]
    assert documents(world, pep_id) == [
        ("final", 1, f"{pep_id}-final-v1.docx"), ("form", 1, f"{pep_id}-form-v1.docx"),
    ]
    pep = world.store.pep(pep_id)
    assert (pep.status, pep.finalised_at) == (PepStatus.FINAL, local(2026, 9, 23, 10))
    # the initial form went at entry; the meeting is recorded when it is, and a PEP sent
    # back shows as such until it is typed up again
    assert status_changes(world, pep_id) == [
        ["not-started", "form-sent"], ["form-sent", "meeting-held"], ["meeting-held", "typed-up"],
        ["typed-up", "returned-for-changes"], ["returned-for-changes", "typed-up"], ["typed-up", "final"],
    ]
    assert world.store.section(pep_id, PepSection.MEETING_RECORD)["next_meeting_dates"] == ["2027-01-20", "2027-05-12"]

    # box 7: back to box 3 for the spring PEP, at the date set at the meeting
    assert {"CompletePepTask", "TermCompletedEndEvent", "StillLookedAfterGateway", "CycleJoinGateway"} <= set(elements(world, key))
    assert active(world, key) == ["TermlyCycleSubProcess", "WaitToPrepareEvent"]
    spring_meeting = local(2027, 1, 20, 9)  # a date field: the day starts at 09:00
    # three school weeks before Wed 20 January: 8 January school days (Mon 4 is INSET), 7 in December
    assert world.store.school_calendar_for("ES-0001").school_weeks_before(date(2027, 1, 20), 3) == date(2026, 12, 15)
    v = variables(world, key)
    assert {k: v[k] for k in ("pepId", "isInitial", "meetingAt", "prepareFromAt", "formSendAt", "formReminderAt", "agedOut")} == {
        "pepId": spring, "isInitial": False, "meetingAt": z(spring_meeting),
        "prepareFromAt": z(local(2026, 12, 1, 9)),  # ten working days before the form goes
        "formSendAt": z(local(2026, 12, 15, 9)),
        "formReminderAt": z(local(2027, 1, 13, 9)),  # five school days before the meeting
        "agedOut": False,
    }
    assert world.store.pep(spring).meeting_at == spring_meeting

    await advance_to(world, local(2026, 12, 1, 8, 59))
    assert active(world, key) == ["TermlyCycleSubProcess", "WaitToPrepareEvent"]
    await advance_to(world, local(2026, 12, 1, 9))
    assert active(world, key) == ["CompletePepFormTask", "TermlyCycleSubProcess"]
    assert the_task(world, key, "CompletePepFormTask").due_date == local(2026, 12, 15, 9)
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    assert active(world, key) == ["TermlyCycleSubProcess", "WaitToSendFormEvent"]
    assert documents(world, spring) == [("form", 1, f"{spring}-form-v1.docx")]

    await advance_to(world, local(2026, 12, 15, 8, 59))
    assert world.new_mail() == []
    await advance_to(world, local(2026, 12, 15, 9))
    [(at, spring_form)] = world.new_mail()
    assert (at, spring_form.recipients) == (local(2026, 12, 15, 9), OAKRIDGE_DT)
    assert spring_form.subject.startswith(f"PEP form {spring}: please return by")
    assert attachments(spring_form) == [f"{spring}-form-v1.docx"]
    assert active(world, key) == ["AwaitSchoolFormSubProcess", "SchoolFormReturnedEvent", "TermlyCycleSubProcess"]


# ------------------------------------------------------------- box 4: the school form
async def test_a_returned_school_form_is_taken_in_and_the_meeting_is_then_awaited(make_world):
    world = make_world(T0)
    pep_id = "PEP-C-0001-2026-AUT"
    key = await c0001_form_sent(world)
    world.new_mail()
    reminder_at = datetime.fromisoformat(variables(world, key)["formReminderAt"])

    # the designated teacher fills in the Word form and it is taken in
    await world.runtime.advance(timedelta(hours=3))
    sent_form = world.store.latest_document(pep_id, DocumentKind.FORM)
    assert sent_form.filename == f"{pep_id}-form-v1.docx"  # one version of the initial PEP's form
    filled = fill_form(world.store.document_content(sent_form.id), school_answers(date(2026, 9, 14)))
    result = world.casework.receive_school_form(pep_id, filled, actor="ES-0001 designated teacher")
    assert not result["invalidFields"]
    assert documents(world, pep_id)[-1] == ("returned", 1, f"{pep_id}-returned-v1.docx")
    school = world.store.section(pep_id, PepSection.SCHOOL_RETURN)
    assert (school["attendance_percent"], school["sdq_score"], school["sen_status"]) == ("96.2", 14, "sen-support")
    assert {a.action for a in world.store.audit_entries("pep", pep_id) if a.actor_id == "ES-0001 designated teacher"} == {
        "record-document", "school-return-received", "school-return-accepted", "save-section:school-return",
        "save-section:school-meeting",  # part 4 as the school filled it
    }
    assert "AwaitSchoolFormSubProcess" in active(world, key)  # not until the message

    published = world.engine.publish_message("pep-form-returned", pep_id, {"formReturnedOn": "2026-09-14"})
    assert published.correlated_instances == [key]
    await world.runtime.run_until_idle()
    assert active(world, key) == ["MeetingWaitGateway", "TermlyCycleSubProcess"]
    assert {"SchoolFormReturnedEvent", "TakeInSchoolFormTask", "SchoolFormTakenInEndEvent", "AwaitSchoolFormSubProcess"} <= set(elements(world, key))
    pep = world.store.pep(pep_id)
    assert (pep.status, pep.form_returned_at) == (PepStatus.FORM_RETURNED, T0 + timedelta(hours=3))
    assert status_changes(world, pep_id)[-1] == ["form-sent", "form-returned"]

    # the form came back: no reminder; the meeting is held at its time
    world.restart()
    await advance_to(world, MEETING_C0001 - timedelta(minutes=1))
    assert reminder_at < world.clock.now()
    assert world.new_mail() == [] and "pep-form-reminder" not in mail_kinds(world, pep_id)
    assert active(world, key) == ["MeetingWaitGateway", "TermlyCycleSubProcess"]
    await advance_to(world, MEETING_C0001)
    assert active(world, key) == ["RecordMeetingTask", "TermlyCycleSubProcess"]
    assert fired_at(world, key, "WaitForMeetingEvent") == [MEETING_C0001]
    assert "MeetingStartsEvent" not in elements(world, key)


async def test_the_form_of_another_pep_is_refused_and_changes_nothing(make_world):
    world = make_world(local(2026, 9, 21, 9))
    pep_id = "PEP-C-0001-2026-AUT"
    key = await c0001_form_sent(world)
    other = start(world, "child-entered-care-emergency", "C-0002", enteredCareOn="2026-09-21", emergency=True)
    await world.runtime.run_until_idle()
    # Toby's school fills in Toby's initial PEP, then uploads it as Poppy's
    wrong_form = world.store.latest_document("PEP-C-0002-2026-AUT", DocumentKind.FORM)
    filled = fill_form(world.store.document_content(wrong_form.id), school_answers(date(2026, 9, 21)))
    documents_before = documents(world, pep_id)
    audit_before = world.store.audit_entries()
    pep_before = world.store.pep(pep_id)

    with pytest.raises(WrongPep) as refused:
        world.casework.receive_school_form(pep_id, filled, actor="ES-0001 designated teacher")
    assert (refused.value.expected_reference, refused.value.found_reference) == (pep_id, "PEP-C-0002-2026-AUT")

    assert documents(world, pep_id) == documents_before
    assert world.store.audit_entries() == audit_before
    assert world.store.pep(pep_id) == pep_before
    assert world.store.section(pep_id, PepSection.SCHOOL_RETURN) is None
    assert active(world, key) == ["AwaitSchoolFormSubProcess", "SchoolFormReturnedEvent", "TermlyCycleSubProcess"]
    assert active(world, other) == ["ArrangeInitialMeetingTask"]


async def test_school_form_reminder_never_goes_before_the_form_is_due_back(make_world):
    """The reminder says the form "was due back on <return-by date>": it has to go
    after the form itself, after that date, on a school day, before the meeting. Here
    the social worker completes their part of an initial PEP on Friday 18 September
    for a meeting on Tuesday 22 September."""
    world = make_world(T0)
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    await complete(world, key, "ArrangeInitialMeetingTask", ARRANGED_C0001, actor="ST-0001")
    await advance_to(world, local(2026, 9, 18, 9))  # Friday
    world.new_mail()
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    await advance_to(world, MEETING_C0001)
    sent = world.new_mail()
    [(form_at, form_mail)] = [(at, m) for at, m in sent if m.subject.startswith("PEP form")]
    [(reminded_at, reminder)] = [(at, m) for at, m in sent if m.subject.startswith("Reminder: PEP form")]
    return_by = return_by_in(form_mail)
    assert f"was due back on {return_by:%A} {return_by.day} {return_by:%B %Y}" in reminder.subject

    reminded_on = reminded_at.astimezone(LONDON).date()
    assert reminded_at > form_at, f"the reminder went with the form, at {form_at.astimezone(LONDON):%A %d %B %H:%M}"
    assert reminded_on > return_by, f"reminder sent on {reminded_on:%A %d %B} says the form was due back on {return_by:%A %d %B}"
    assert world.store.school_calendar_for("ES-0001").is_school_day(reminded_on)
    assert reminded_at < MEETING_C0001


# --------------------------------------------------------------------------------- 1b
