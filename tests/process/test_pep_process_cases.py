"""Process tests of the PEP diagram's other entries, ages and endings on the embedded
engine (as ``test_pep_process.py``, on SQLite and PostgreSQL): emergency entry, the
16-17 and 18+ years, a young child without a setting, a change of school, leaving care,
an unknown child, and how a protected form's password reaches the school.
"""

import re
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

from pepflow.calendar import WorkingDays
from pepflow.documents import protect, unprotect
from pepflow.documents.fill import fill_form
from pepflow.domain.enums import DocumentKind, PepSection, PepStatus

from .conftest import T0
from .helpers import (
    AMIRA_SW, ARRANGED_C0001, C0005_PEP_RECIPIENTS, FERNHOLLOW_DT, INITIAL_STEPS, KESTREL_DT,
    LOGIN, OAKRIDGE_DT, PEP_COORDINATOR, RIVERBEND_DP, SW_PART_DONE, SW_PART_DONE_NO_SETTING, VIRTUAL_SCHOOL, active, advance_to,
    attachments, complete, documents, elements, fired_at, local, mail_kinds, play_until,
    school_answers, start, status_changes, the_task, variables, z,
)


async def test_1b_emergency_entry_acts_immediately(make_world):
    start_at = local(2026, 9, 21, 9)  # Monday
    world = make_world(start_at)
    pep_id = "PEP-C-0002-2026-AUT"
    key = start(world, "child-entered-care-emergency", "C-0002", enteredCareOn="2026-09-21", emergency=True)
    assert active(world, key) == ["InitiatePepTask"]
    await world.runtime.run_until_idle()
    assert active(world, key) == ["ArrangeInitialMeetingTask"]
    assert "EmergencyEntryStartEvent" in elements(world, key) and "ChildLookedAfterStartEvent" not in elements(world, key)
    v = variables(world, key)
    assert (v["emergency"], v["ownerAssignee"], v["businessSupportGroups"], v["settingId"]) == (True, LOGIN["ST-0002"], ["business-support-south"], "ES-0002")
    assert v["initialMeetingDueAt"] == z(local(2026, 10, 5, 17))
    assert v["initialMeetingReminderAt"] == z(local(2026, 9, 30, 9))
    episode = world.store.current_care_episode("C-0002")
    assert (episode.id, episode.entered_care_on, episode.emergency) == ("CE-0002-1", date(2026, 9, 21), True)

    mail = {m.recipients: (at, m) for at, m in world.new_mail()}
    assert set(mail) == {VIRTUAL_SCHOOL, FERNHOLLOW_DT}
    assert all(at == start_at for at, _ in mail.values())  # immediately
    assert mail[VIRTUAL_SCHOOL][1].subject == f"New child in care: {pep_id} (emergency placement)"
    assert mail[FERNHOLLOW_DT][1].subject == f"Initial PEP {pep_id}: meeting to be held by Monday 5 October 2026"
    assert attachments(mail[FERNHOLLOW_DT][1]) == [f"{pep_id}-form-v1.docx"]
    assert documents(world, pep_id) == [("form", 1, f"{pep_id}-form-v1.docx")]

    world.restart()
    await world.runtime.advance(timedelta(hours=2))
    await complete(world, key, "ArrangeInitialMeetingTask")  # the role-played social worker
    assert active(world, key) == ["CompletePepFormTask", "TermlyCycleSubProcess"]
    [(_, arranged)] = world.new_mail()
    assert arranged.recipients == PEP_COORDINATOR
    assert arranged.subject == f"Initial PEP meeting arranged: {pep_id} on Monday 28 September 2026"
    assert "10:00" in arranged.text_body and "At the education setting" in arranged.text_body
    assert world.store.pep(pep_id).meeting_at == local(2026, 9, 28, 10)


# ------------------------------------------------------------ children already in care
async def test_16_17_leaving_care_worker_termly_pep_on_the_college_calendar(make_world):
    world = make_world(local(2026, 9, 7, 8))  # first day of Riverbend College's autumn term (INSET)
    pep_id = "PEP-C-0003-2026-SPR"
    published = world.engine.publish_message("child-already-in-care", "C-0003", {"childId": "C-0003"})
    [key] = published.started_instances
    await world.runtime.run_until_idle()

    # no initial PEP: the cycle starts at the next term's PEP, three school weeks into term
    assert active(world, key) == ["TermlyCycleSubProcess", "WaitToPrepareEvent"]
    assert {"AlreadyInCareStartEvent", "ResumePepCycleTask", "CycleJoinGateway", "ScheduleTermlyPepTask"} <= set(elements(world, key))
    assert not set(INITIAL_STEPS) & set(elements(world, key))
    assert world.new_mail() == []
    v = variables(world, key)
    # college spring term from Tue 5 January 2027: fifteen school days in, Tue 26 January
    meeting = local(2027, 1, 26, 10)
    assert {k: v[k] for k in (
        "pepId", "careEpisodeId", "variant", "ownerRole", "ownerAssignee", "isInitial", "meetingAt",
        "prepareFromAt", "formSendAt", "formReminderAt",
    )} == {
        "pepId": pep_id, "careEpisodeId": "CE-0003-1", "variant": "post-16", "ownerRole": "leaving-care-worker",
        "ownerAssignee": LOGIN["ST-0003"], "isInitial": False, "meetingAt": z(meeting),
        "prepareFromAt": z(local(2026, 12, 17, 9)),  # ten working days back over Christmas and New Year
        "formSendAt": z(local(2027, 1, 5, 9)),  # three school weeks before: the first day of term
        "formReminderAt": z(local(2027, 1, 19, 9)),  # five school days before the meeting
    }
    calendar = world.store.school_calendar_for("ES-0003")
    assert calendar.school_weeks_before(date(2027, 1, 26), 3) == date(2027, 1, 5)
    assert WorkingDays().add_working_days(date(2027, 1, 5), -10) == date(2026, 12, 17)

    await advance_to(world, local(2026, 12, 17, 8, 59))
    assert active(world, key) == ["TermlyCycleSubProcess", "WaitToPrepareEvent"]
    await advance_to(world, local(2026, 12, 17, 9))
    assert active(world, key) == ["CompletePepFormTask", "TermlyCycleSubProcess"]
    task = the_task(world, key, "CompletePepFormTask")
    assert (task.assignee, task.due_date) == (LOGIN["ST-0003"], local(2027, 1, 5, 9))  # the Leaving Care Worker
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0003")
    assert active(world, key) == ["TermlyCycleSubProcess", "WaitToSendFormEvent"]
    assert documents(world, pep_id) == [("form", 1, f"{pep_id}-form-v1.docx")]

    world.restart()  # over Christmas
    await advance_to(world, local(2027, 1, 5, 8, 59))
    assert world.new_mail() == []
    await advance_to(world, local(2027, 1, 5, 9))
    [(at, form_mail)] = world.new_mail()
    assert (at, form_mail.recipients) == (local(2027, 1, 5, 9), RIVERBEND_DP)
    assert attachments(form_mail) == [f"{pep_id}-form-v1.docx"]
    assert fired_at(world, key, "WaitToSendFormEvent") == [local(2027, 1, 5, 9)]
    assert active(world, key) == ["AwaitSchoolFormSubProcess", "SchoolFormReturnedEvent", "TermlyCycleSubProcess"]

    # nothing back: a reminder on the reminder date, then the meeting goes ahead anyway
    await advance_to(world, local(2027, 1, 19, 8, 59))
    assert world.new_mail() == []
    await advance_to(world, local(2027, 1, 19, 9))
    [(at, reminder)] = world.new_mail()
    assert (at, reminder.recipients) == (local(2027, 1, 19, 9), RIVERBEND_DP)
    assert reminder.subject.startswith(f"Reminder: PEP form {pep_id} was due back on")
    assert active(world, key) == ["AwaitSchoolFormSubProcess", "SchoolFormReturnedEvent", "TermlyCycleSubProcess"]

    await advance_to(world, meeting - timedelta(minutes=1))
    assert "AwaitSchoolFormSubProcess" in active(world, key)
    await advance_to(world, meeting)
    assert active(world, key) == ["RecordMeetingTask", "TermlyCycleSubProcess"]
    assert fired_at(world, key, "MeetingStartsEvent") == [meeting]
    assert the_task(world, key, "RecordMeetingTask").assignee == LOGIN["ST-0003"]
    assert mail_kinds(world, pep_id) == Counter(["pep-form", "pep-form-reminder"])


async def test_18_plus_personal_adviser_ages_out_at_the_end_of_the_academic_year(make_world):
    world = make_world(local(2026, 9, 7, 8))
    key = start(world, "child-already-in-care", "C-0004")  # 18 on 3 September 2026
    await world.runtime.run_until_idle()
    v = variables(world, key)
    assert (v["pepId"], v["ownerRole"], v["ownerAssignee"], v["variant"]) == ("PEP-C-0004-2026-SPR", "personal-adviser", LOGIN["ST-0004"], "post-16")

    # spring PEP, every role doing their part; it loops to the summer PEP
    await play_until(world, key, lambda: variables(world, key)["pepId"] == "PEP-C-0004-2026-SUM")
    assert active(world, key) == ["TermlyCycleSubProcess", "WaitToPrepareEvent"]
    v = variables(world, key)
    assert (v["agedOut"], v["ownerRole"], v["meetingAt"]) == (False, "personal-adviser", z(local(2027, 5, 4, 9)))
    assert world.store.pep("PEP-C-0004-2026-SPR").status == PepStatus.FINAL
    tasks = world.engine.user_tasks(process_instance_key=key, state="COMPLETED")
    assert {t.element_id: t.completed_by for t in tasks} == {
        "CompletePepFormTask": "ST-0004", "RecordMeetingTask": "ST-0004", "TypeUpPepTask": "ST-0013", "CheckAndFinalisePepTask": "ST-0004",
    }

    world.restart()
    # the summer meeting sets the autumn 2027 date: past the end of the academic year he turned 18 in
    await play_until(world, key, lambda: world.engine.instance(key).state != "ACTIVE")
    instance = world.engine.instance(key)
    assert (instance.state, instance.active_elements, instance.variables["agedOut"]) == ("COMPLETED", [], True)
    assert "AgedOutEndEvent" in elements(world, key)
    assert [(p.id, p.status) for p in world.store.peps_for("C-0004")] == [
        ("PEP-C-0004-2026-SPR", PepStatus.FINAL), ("PEP-C-0004-2026-SUM", PepStatus.FINAL),
    ]
    assert world.store.section("PEP-C-0004-2026-SUM", PepSection.MEETING_RECORD)["next_meeting_dates"][0].startswith("2027-09")
    final = [m for _, m in world.new_mail() if m.subject.startswith("Final PEP PEP-C-0004-2026-SUM")]
    assert final and all(attachments(m) == ["PEP-C-0004-2026-SUM-final-v1.docx"] for m in final)
    assert world.engine.next_timer_due() is None and world.engine.user_tasks(process_instance_key=key) == []


# ------------------------------------------------------ young child, no early-years setting
async def test_young_child_without_a_setting_pep_goes_to_the_health_visitor_and_carers(make_world):
    start_at = local(2026, 10, 5, 9)
    world = make_world(start_at)
    pep_id = "PEP-C-0005-2026-AUT"
    key = start(world, "child-entered-care-emergency", "C-0005", enteredCareOn="2026-10-05", emergency=True)
    await world.runtime.run_until_idle()
    v = variables(world, key)
    assert (v["settingId"], v["variant"], v["hasSettingInput"]) == (None, "early-years-no-setting", False)

    mail = world.new_mail()
    initial = [m for _, m in mail if m.subject.startswith(f"Initial PEP {pep_id}")]
    assert {m.recipients for m in initial} == C0005_PEP_RECIPIENTS  # not the parent who is not flagged
    assert all(attachments(m) == [f"{pep_id}-form-v1.docx"] for m in initial)
    assert [m.recipients for _, m in mail if m not in initial] == [VIRTUAL_SCHOOL]

    await complete(world, key, "ArrangeInitialMeetingTask")
    meeting = local(2026, 10, 12, 10)
    assert world.store.pep(pep_id).meeting_at == meeting
    assert world.store.section(pep_id, PepSection.SOCIAL_WORKER) == {"venue_code": "carers-home", "venue": "At the carers' home"}
    world.new_mail()
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE_NO_SETTING, actor="ST-0001")

    # the form goes to the Health Visitor and carers; there is no school form to wait for
    form_mail = [m for _, m in world.new_mail()]
    assert {m.recipients for m in form_mail} == C0005_PEP_RECIPIENTS
    for m in form_mail:
        assert m.subject.startswith(f"PEP {pep_id}: information needed by")
        assert attachments(m) == [f"{pep_id}-form-v1.docx"]
    assert mail_kinds(world, pep_id)["pep-form-health-visitor"] == 4 and "pep-form" not in mail_kinds(world, pep_id)
    assert active(world, key) == ["MeetingWaitGateway", "TermlyCycleSubProcess"]
    assert "HasSettingInputGateway" in elements(world, key)
    assert "AwaitSchoolFormSubProcess" not in {h.element_id for h in world.engine.history(key)}

    world.restart()
    await advance_to(world, meeting)
    assert active(world, key) == ["RecordMeetingTask", "TermlyCycleSubProcess"]
    assert fired_at(world, key, "WaitForMeetingEvent") == [meeting]
    assert "pep-form-reminder" not in mail_kinds(world, pep_id)

    # the meeting, typing up, the final PEP to everyone there, and on to the spring PEP
    await play_until(world, key, lambda: variables(world, key)["pepId"] != pep_id)
    final = [m for _, m in world.new_mail() if m.subject.startswith(f"Final PEP {pep_id}")]
    assert {m.recipients for m in final} == C0005_PEP_RECIPIENTS | {AMIRA_SW}
    assert world.store.pep(pep_id).status == PepStatus.FINAL
    v = variables(world, key)
    assert (v["pepId"], v["variant"], v["hasSettingInput"], v["isInitial"]) == ("PEP-C-0005-2026-SPR", "early-years-no-setting", False, False)
    assert active(world, key) == ["TermlyCycleSubProcess", "WaitToPrepareEvent"]


# ---------------------------------------------------------------------- change of school
async def test_a_change_of_school_cancels_the_current_pep_and_a_new_one_is_due_within_ten_working_days(make_world):
    world = make_world(local(2026, 12, 14, 9))
    old, new = "PEP-C-0006-2026-SPR", "PEP-C-0006-2026-SPR-2"
    key = start(world, "child-already-in-care", "C-0006")
    await world.runtime.run_until_idle()
    assert active(world, key) == ["CompletePepFormTask", "TermlyCycleSubProcess"]  # its preparation time has come
    v = variables(world, key)
    # the spring PEP is made out for the school Jasper attends today (Oakridge); he
    # moves to Kestrel Park on Monday 4 January 2027 (sample data), which the council
    # records as a change of setting then
    assert (v["pepId"], v["settingId"], v["meetingAt"], v["formSendAt"]) == (old, "ES-0001", z(local(2027, 1, 25, 10)), z(local(2026, 12, 18, 9)))
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0002")
    await advance_to(world, local(2026, 12, 18, 9))
    [(_, form_mail)] = world.new_mail()
    assert form_mail.recipients == OAKRIDGE_DT and attachments(form_mail) == [f"{old}-form-v1.docx"]
    assert active(world, key) == ["AwaitSchoolFormSubProcess", "SchoolFormReturnedEvent", "TermlyCycleSubProcess"]

    # the council records the change of school on Monday 4 January 2027
    changed_on = local(2027, 1, 4, 9)
    await advance_to(world, changed_on)
    assert world.store.setting_for("C-0006", date(2027, 1, 4)).id == "ES-0004"
    outcome = world.events.setting_changed("C-0006", "ES-0004", date(2027, 1, 4), actor="test")
    assert outcome.correlated_instances == (key,)
    await world.runtime.run_until_idle()
    assert {"SettingChangedEvent", "ScheduleSettingChangePepTask"} <= set(elements(world, key))
    assert {"AwaitSchoolFormSubProcess", "TermlyCycleSubProcess"} <= set(elements(world, key, "TERMINATED"))
    assert active(world, key) == ["CompletePepFormTask", "TermlyCycleSubProcess"]

    assert world.store.pep(old).status == PepStatus.CANCELLED
    assert status_changes(world, old)[-1] == ["form-sent", "cancelled"]
    new_meeting = local(2027, 1, 18, 10)
    assert WorkingDays().working_days_between(date(2027, 1, 4), date(2027, 1, 18)) == 10
    v = variables(world, key)
    assert (v["pepId"], v["settingId"], v["meetingAt"], v["isInitial"], v["formSendAt"]) == (new, "ES-0004", z(new_meeting), True, z(changed_on))
    pep = world.store.pep(new)
    assert (pep.setting_id, pep.is_initial, pep.meeting_at, pep.care_episode_id) == ("ES-0004", True, new_meeting, "CE-0006-1")
    # the old PEP's form can no longer be taken in by the process
    assert world.engine.publish_message("pep-form-returned", old, {}, time_to_live=timedelta(0)).correlated_instances == []

    world.restart()
    await complete(world, key, "CompletePepFormTask", SW_PART_DONE, actor="ST-0002")
    [(at, new_form)] = [(at, m) for at, m in world.new_mail() if m.subject.startswith("PEP form")]
    assert (at, new_form.recipients) == (changed_on, KESTREL_DT)
    assert new_form.subject.startswith(f"PEP form {new}:")
    assert attachments(new_form) == [f"{new}-form-v1.docx"]
    assert documents(world, new) == [("form", 1, f"{new}-form-v1.docx")]

    await advance_to(world, new_meeting)
    assert active(world, key) == ["RecordMeetingTask", "TermlyCycleSubProcess"]
    assert fired_at(world, key, "MeetingStartsEvent") == [new_meeting]
    # the cancelled PEP's reminder (due Monday 18 January, 09:00) never went
    assert mail_kinds(world, old) == Counter(["pep-form"])
    about_old = [m.subject for m in world.mailer.sent if re.search(re.escape(old) + r"(?!-\d)", m.subject)]
    assert about_old == [form_mail.subject]


# --------------------------------------------------------------------------- left care
async def test_leaving_care_at_any_point_ends_the_process_cancels_the_pep_and_closes_the_episode(make_world):
    world = make_world(local(2026, 9, 21, 9))
    key1 = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    await complete(world, key1, "ArrangeInitialMeetingTask", {**ARRANGED_C0001, "meetingAt": "2026-10-08T09:00:00Z"}, actor="ST-0001")
    await complete(world, key1, "CompletePepFormTask", SW_PART_DONE, actor="ST-0001")
    key2 = start(world, "child-entered-care-emergency", "C-0002", enteredCareOn="2026-09-21", emergency=True)
    await world.runtime.run_until_idle()
    assert active(world, key2) == ["ArrangeInitialMeetingTask"]
    awaiting = ["AwaitSchoolFormSubProcess", "SchoolFormReturnedEvent", "TermlyCycleSubProcess"]
    assert active(world, key1) == awaiting
    world.new_mail()

    # Toby returns home while his initial meeting is still to be arranged
    await advance_to(world, local(2026, 9, 25, 11))
    outcome = world.events.left_care("C-0002", date(2026, 9, 25), reason="returned home to parents", actor="test")
    assert outcome.correlated_instances == (key2,)
    await world.runtime.run_until_idle()
    instance = world.engine.instance(key2)
    assert (instance.state, instance.active_elements) == ("COMPLETED", [])
    assert {"LeftCareStartEvent", "CloseCaseTask", "LeftCareEndEvent"} <= set(elements(world, key2))
    assert "ArrangeInitialMeetingTask" in elements(world, key2, "TERMINATED")
    assert world.engine.user_tasks(process_instance_key=key2) == []
    assert world.store.pep("PEP-C-0002-2026-AUT").status == PepStatus.CANCELLED
    episode = world.store.care_episode("CE-0002-1")
    assert (episode.left_care_on, episode.left_care_reason) == (date(2026, 9, 25), "returned home to parents")
    assert active(world, key1) == awaiting  # the other child's PEP carries on

    # his reminder and escalation never go
    world.restart()
    await advance_to(world, local(2026, 10, 6, 11))
    assert not [m for _, m in world.new_mail() if "PEP-C-0002" in m.subject]
    assert world.store.current_care_episode("C-0002") is None

    # Poppy leaves care while her school has the form
    outcome = world.events.left_care("C-0001", date(2026, 10, 6), reason="special guardianship order", actor="test")
    assert outcome.correlated_instances == (key1,)
    await world.runtime.run_until_idle()
    assert world.engine.instance(key1).state == "COMPLETED"
    assert {"AwaitSchoolFormSubProcess", "TermlyCycleSubProcess"} <= set(elements(world, key1, "TERMINATED"))
    assert {"LeftCareStartEvent", "CloseCaseTask", "LeftCareEndEvent"} <= set(elements(world, key1))
    assert world.store.pep("PEP-C-0001-2026-AUT").status == PepStatus.CANCELLED
    assert world.store.care_episode("CE-0001-1").left_care_on == date(2026, 10, 6)
    assert world.engine.next_timer_due() is None
    await advance_to(world, local(2026, 10, 9, 9))  # past her meeting: nothing happens
    assert world.new_mail() == [] and world.engine.user_tasks() == []


# ---------------------------------------------------------------------- unknown child
async def test_an_unknown_child_in_a_start_message_is_an_incident_naming_the_child_and_nothing_is_created(make_world):
    world = make_world(T0)
    audit_before = world.store.audit_entries()
    published = world.engine.publish_message(  # straight to the engine: pepflow.events refuses an unknown child
        "child-looked-after", "C-9999",
        {"childId": "C-9999", "careEpisodeId": "CE-9999-1", "enteredCareOn": "2026-09-14", "emergency": False},
    )
    [key] = published.started_instances
    await world.runtime.advance(timedelta(hours=1))  # every retry, after its backoff

    [incident] = world.engine.incidents(process_instance_key=key)
    assert (incident.element_id, incident.error_type) == ("InitiatePepTask", "JOB_NO_RETRIES")
    assert "C-9999" in incident.error_message
    assert active(world, key) == ["InitiatePepTask"]
    assert world.store.audit_entries() == audit_before
    assert world.store.mail_log() == [] and world.mailer.sent == []
    assert "C-9999" not in {c.id for c in world.store.children()}
    assert world.engine.user_tasks() == []


# ---------------------------------------------------------------------- document passwords
async def test_with_the_separate_message_channel_the_password_follows_in_its_own_e_mail(make_world):
    world = make_world(T0)
    world.casework.config = replace(world.casework.config, password_channel="separate-email")
    pep_id = "PEP-C-0001-2026-AUT"
    start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    sent = [(at, m) for at, m in world.new_mail() if m.recipients == OAKRIDGE_DT]
    [(file_at, document_mail)] = sent  # the password does not go in the same moment
    assert document_mail.attachments
    await world.runtime.advance(timedelta(hours=2))
    await world.casework.sender.flush()  # the product's sender runs all the time (pepflow.app)
    [(password_at, password_mail)] = [(at, m) for at, m in world.new_mail() if m.recipients == OAKRIDGE_DT]
    assert not password_mail.attachments and password_at - file_at >= timedelta(hours=2)
    password, _ = world.casework.document_password(pep_id, DocumentKind.FORM)
    assert document_mail.subject.startswith(f"Initial PEP {pep_id}") and pep_id in password_mail.subject
    assert password in password_mail.text_body and password not in document_mail.text_body
    assert "separate e-mail" in document_mail.text_body
    assert unprotect(document_mail.attachments[0].data, password)


async def test_a_form_returned_protected_with_its_password_is_read(make_world):
    world = make_world(T0)
    pep_id = "PEP-C-0001-2026-AUT"
    start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    [form] = world.store.documents(pep_id)
    password, _ = world.casework.document_password(pep_id, DocumentKind.FORM)
    filled = fill_form(world.store.document_content(form.id), school_answers(date(2026, 9, 16)))
    result = world.casework.receive_school_form(pep_id, protect(filled, password), actor="ES-0001 designated teacher")
    assert result["returnedDocumentId"]
    assert world.store.section(pep_id, "school-return")["attendance_percent"] is not None
