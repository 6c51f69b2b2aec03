"""Process tests for the embedded engine: one small diagram per feature, asserting the
active elements after each step and clock move, with a restart (save/restore) in the
middle. Every test runs on SQLite and on PostgreSQL."""


from datetime import timedelta

import pytest
from pyzeebe import Job, ZeebeTaskRouter
from pyzeebe.errors import BusinessError

from pepflow.engine.errors import DeploymentError, InvalidState, InvalidVariables, NotFound
from pepflow.engine.worker import EmbeddedWorker

from .conftest import DIAGRAMS, T0


def iso(delta: timedelta) -> str:
    return (T0 + delta).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------------- jobs
def test_job_gets_headers_and_input_mappings_and_only_mapped_outputs_reach_the_process(harness):
    harness.deploy("jobs.bpmn")
    key = harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 5})
    assert harness.active(key) == ["PrepareDocumentTask"]

    job = harness.one_job("prepare-document")
    assert job.custom_headers == {"template": "pep-form"}
    assert job.variables["documentName"] == "DOC-P1"
    assert job.retries == 2

    harness.restart()
    harness.engine.complete_job(job.key, {"documentId": "D-9", "scratch": "not for the process"}, activation=job.activation)
    assert harness.active(key) == ["SendDocumentTask"]
    variables = harness.engine.instance(key).variables
    assert variables["formDocumentId"] == "D-9"
    assert "documentId" not in variables and "scratch" not in variables and "documentName" not in variables

    send = harness.one_job("send-document")
    assert send.retries == 5  # retries from a FEEL expression
    harness.engine.complete_job(send.key, {"sentAt": "2026-09-07"})
    assert harness.engine.instance(key).state == "COMPLETED"
    assert harness.engine.instance(key).variables["sentAt"] == "2026-09-07"
    assert harness.completed(key)[-3:] == ["PrepareDocumentTask", "SendDocumentTask", "JobsEndEvent"]


def test_business_error_is_caught_by_the_error_boundary_event(harness):
    harness.deploy("jobs.bpmn")
    key = harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 1})
    job = harness.one_job("prepare-document")
    harness.engine.throw_error(job.key, "setting-unknown", "no setting for the child")
    assert harness.engine.instance(key).state == "COMPLETED"
    assert "FixSettingEndEvent" in harness.completed(key)
    assert "PrepareDocumentTask" in harness.terminated(key)
    assert harness.engine.jobs(key) == []


def test_uncaught_business_error_is_an_incident(harness):
    harness.deploy("jobs.bpmn")
    key = harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 1})
    harness.engine.complete_job(harness.one_job("prepare-document").key, {"documentId": "D"})
    send = harness.one_job("send-document")
    harness.engine.throw_error(send.key, "no-such-code", "nobody catches this")
    [incident] = harness.engine.incidents(process_instance_key=key)
    assert incident.error_type == "UNHANDLED_ERROR_EVENT"
    assert incident.element_id == "SendDocumentTask"
    assert "no-such-code" in incident.error_message


def test_failures_use_retries_then_raise_an_incident_that_an_operator_retries(harness):
    harness.deploy("jobs.bpmn")
    key = harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 1})
    router = ZeebeTaskRouter()
    attempts: list[int] = []
    broken = {"yes": True}

    @router.task(task_type="prepare-document")
    async def prepare_document(documentName: str) -> dict:
        attempts.append(1)
        if broken["yes"]:
            raise ConnectionError("template store unreachable")
        return {"documentId": f"ID-{documentName}"}

    worker = EmbeddedWorker(harness.engine, [router])
    import asyncio

    asyncio.run(worker.drain())
    assert len(attempts) == 2  # retries="2" in the diagram
    # every failed attempt is counted by type, with the first one's reason
    assert worker.failed == {"prepare-document": 2}
    assert "template store unreachable" in worker.first_failure["prepare-document"]
    [incident] = harness.engine.incidents(process_instance_key=key)
    assert incident.error_type == "JOB_NO_RETRIES"
    assert "template store unreachable" in incident.error_message
    assert harness.active(key) == ["PrepareDocumentTask"]

    harness.restart()
    broken["yes"] = False
    harness.engine.resolve_incident(incident.incident_key, retries=1)
    worker = EmbeddedWorker(harness.engine, [router])
    asyncio.run(worker.drain())
    assert worker.failed == {}  # the retry that went through is not a failure
    assert harness.active(key) == ["SendDocumentTask"]
    assert harness.engine.instance(key).variables["formDocumentId"] == "ID-DOC-P1"
    assert harness.engine.incidents(process_instance_key=key) == []


def test_a_failed_job_waits_for_its_backoff(harness):
    harness.deploy("jobs.bpmn")
    harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 1})
    job = harness.one_job("prepare-document")
    harness.engine.fail_job(job.key, 1, "busy", retry_backoff=timedelta(minutes=10))
    assert harness.engine.activate_jobs("prepare-document", "w") == []
    harness.clock.advance(timedelta(minutes=9))
    assert harness.engine.activate_jobs("prepare-document", "w") == []
    harness.clock.advance(timedelta(minutes=1))
    assert len(harness.engine.activate_jobs("prepare-document", "w")) == 1


def test_job_timeout_hands_the_job_out_again_and_refuses_the_late_result(harness):
    harness.deploy("jobs.bpmn")
    key = harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 1})
    first = harness.one_job("prepare-document", timeout=timedelta(minutes=1))
    assert harness.engine.activate_jobs("prepare-document", "other") == []
    harness.clock.advance(timedelta(minutes=2))
    second = harness.one_job("prepare-document", timeout=timedelta(minutes=5))
    assert second.key == first.key and second.activation == first.activation + 1
    with pytest.raises(InvalidState):
        harness.engine.complete_job(first.key, {"documentId": "late"}, activation=first.activation)
    harness.engine.complete_job(second.key, {"documentId": "on time"}, activation=second.activation)
    assert harness.engine.instance(key).variables["formDocumentId"] == "on time"


def test_pyzeebe_handler_gets_variables_by_parameter_name_and_job(harness):
    harness.deploy("jobs.bpmn")
    key = harness.engine.create_instance("jobs", {"pepId": "P7", "sendRetries": 1})
    router = ZeebeTaskRouter()
    seen = {}

    @router.task(task_type="prepare-document")
    def prepare_document(pepId: str, documentName: str, job: Job) -> dict:  # a sync handler
        seen.update(pepId=pepId, documentName=documentName, element=job.element_id, headers=job.custom_headers)
        return {"documentId": "D"}

    @router.task(task_type="send-document")
    async def send_document(formDocumentId: str) -> None:
        raise BusinessError("setting-unknown")  # not caught on this task: incident

    import asyncio

    asyncio.run(EmbeddedWorker(harness.engine, [router]).drain())
    assert seen == {"pepId": "P7", "documentName": "DOC-P7", "element": "PrepareDocumentTask", "headers": {"template": "pep-form"}}
    [incident] = harness.engine.incidents(process_instance_key=key)
    assert incident.error_type == "UNHANDLED_ERROR_EVENT" and incident.element_id == "SendDocumentTask"


def test_simulated_time_moves_past_a_job_that_timed_out_and_hands_it_out_again(harness):
    """A handler that ran past its timeout (on a loaded machine, in real time) leaves its
    job activated until its deadline has passed: advancing the simulation clock must stop
    just after that deadline, hand the job out again and go on, never stop on it forever."""
    import asyncio

    from pepflow.engine.worker import EmbeddedRuntime

    harness.deploy("jobs.bpmn")
    key = harness.engine.create_instance("jobs", {"pepId": "P8", "sendRetries": 1})
    stuck = harness.one_job("prepare-document", timeout=timedelta(seconds=10))  # its worker never answers
    router = ZeebeTaskRouter()

    @router.task(task_type="prepare-document")
    async def prepare_document(pepId: str) -> dict:
        return {"documentId": f"D-{pepId}"}

    @router.task(task_type="send-document")
    async def send_document(formDocumentId: str) -> None:
        return None

    runtime = EmbeddedRuntime(harness.engine, [router])
    asyncio.run(asyncio.wait_for(runtime.advance(timedelta(hours=1)), timeout=60))
    assert harness.clock.now() == T0 + timedelta(hours=1)
    assert harness.engine.instance(key).variables["formDocumentId"] == "D-P8"
    with pytest.raises(NotFound):  # the late answer: the job was handed out again and completed
        harness.engine.complete_job(stuck.key, {"documentId": "late"}, activation=stuck.activation)


# ------------------------------------------------------------------- user tasks
def test_user_task_assignment_schedule_claim_and_form_validation(harness):
    harness.deploy("user_task.bpmn", "review-pep.form")
    key = harness.engine.create_instance(
        "approval", {"ownerUserId": "sw-7", "team": ["business-support-north"], "reviewDueAt": iso(timedelta(days=5))}
    )
    [task] = harness.engine.user_tasks(process_instance_key=key)
    assert task.element_id == "ReviewPepTask" and task.form_id == "review-pep"
    assert task.assignee == "sw-7"
    assert task.candidate_groups == ["business-support-north"]
    assert task.candidate_users == ["supervisor-1", "supervisor-2"]
    assert task.due_date == T0 + timedelta(days=5)
    assert task.follow_up_date == T0 + timedelta(days=3)
    assert [t.user_task_key for t in harness.engine.user_tasks(candidate_group="business-support-north")] == [task.user_task_key]

    harness.engine.unclaim(task.user_task_key)
    assert harness.engine.user_task(task.user_task_key).assignee is None
    harness.engine.claim(task.user_task_key, "bso-3")
    with pytest.raises(InvalidState):
        harness.engine.claim(task.user_task_key, "bso-4")

    with pytest.raises(InvalidVariables) as missing:
        harness.engine.complete_user_task(task.user_task_key, {"approved": False})
    assert "Reviewed on" in str(missing.value) and "Reason" in str(missing.value)
    assert harness.active(key) == ["ReviewPepTask"]

    harness.restart()
    harness.engine.complete_user_task(
        task.user_task_key, {"approved": False, "reviewedOn": "2026-09-08", "reasonCode": "targets-missing"}, actor="bso-3"
    )
    # not approved: the default flow loops back to a new review task
    [again] = harness.engine.user_tasks(process_instance_key=key)
    assert again.user_task_key != task.user_task_key
    done = harness.engine.user_task(task.user_task_key)
    assert done.state == "COMPLETED" and done.completed_by == "bso-3"

    # the hidden field (reason) is not required once approved
    harness.engine.complete_user_task(again.user_task_key, {"approved": True, "reviewedOn": "2026-09-09"})
    assert harness.engine.instance(key).state == "COMPLETED"
    with pytest.raises(InvalidState):
        harness.engine.complete_user_task(again.user_task_key, {})


# ------------------------------------------------------------------------ timers
def test_timers_cycle_and_date_boundaries_and_catch_event_from_variables(harness):
    harness.deploy("timers.bpmn")
    key = harness.engine.create_instance(
        "timers", {"meetingDueAt": iso(timedelta(days=10)), "meetingAt": iso(timedelta(days=20))}
    )
    assert harness.active(key) == ["ArrangeMeetingTask"]

    harness.clock.advance(timedelta(days=2, hours=23))
    assert harness.engine.jobs(key) == []
    harness.clock.advance(timedelta(hours=1))  # day 3: first reminder (R2/P3D)
    assert [j.element_id for j in harness.engine.jobs(key)] == ["SendReminderTask"]
    harness.engine.complete_job(harness.one_job("send-reminder").key)

    harness.restart()
    harness.clock.advance(timedelta(days=3))  # day 6: second and last reminder
    harness.engine.complete_job(harness.one_job("send-reminder").key)
    harness.clock.advance(timedelta(days=3, hours=12))  # day 9.5: no third reminder
    assert harness.engine.jobs(key) == []
    assert harness.active(key) == ["ArrangeMeetingTask"]

    harness.clock.advance(timedelta(hours=12))  # day 10: overdue, the task stays
    assert sorted(harness.active(key)) == ["ArrangeMeetingTask", "EscalateTask"]
    harness.engine.complete_job(harness.one_job("escalate").key)

    [task] = harness.engine.user_tasks(process_instance_key=key)
    harness.engine.complete_user_task(task.user_task_key, {})
    assert harness.active(key) == ["WaitForMeetingEvent"]
    harness.clock.advance(timedelta(days=9, hours=23))  # day 19.96
    assert harness.active(key) == ["WaitForMeetingEvent"]
    harness.clock.advance(timedelta(hours=1))
    assert harness.engine.instance(key).state == "COMPLETED"
    assert harness.completed(key).count("SendReminderTask") == 2


def test_interrupting_timer_cancels_the_task(harness):
    harness.deploy("timers.bpmn")
    key = harness.engine.create_instance(
        "timers", {"meetingDueAt": iso(timedelta(days=100)), "meetingAt": iso(timedelta(days=200))}
    )
    [task] = harness.engine.user_tasks(process_instance_key=key)
    harness.clock.advance(timedelta(days=3))
    harness.engine.complete_job(harness.one_job("send-reminder").key)
    harness.clock.advance(timedelta(days=27))  # P30D; the second reminder went on day 6
    assert harness.active(key) == ["SendReminderTask"]  # the reminder branch is not interrupted
    harness.engine.complete_job(harness.one_job("send-reminder").key)
    assert harness.engine.instance(key).state == "COMPLETED"
    assert "GaveUpEndEvent" in harness.completed(key)
    assert harness.engine.user_task(task.user_task_key).state == "CANCELED"


def test_a_timer_that_fell_due_while_the_engine_was_stopped_fires_at_restart(harness):
    harness.deploy("timers.bpmn")
    key = harness.engine.create_instance(
        "timers", {"meetingDueAt": iso(timedelta(days=1)), "meetingAt": iso(timedelta(days=2))}
    )
    harness.engine.close()
    harness.clock.set(T0 + timedelta(days=1, hours=1))  # time passes while stopped
    engine = harness.restart()
    assert engine.fire_due_timers() >= 1
    assert "EscalateTask" in harness.active(key)


# ---------------------------------------------------------------------- messages
def test_message_start_catch_boundary_and_buffered_messages(harness):
    harness.deploy("messages.bpmn")
    # a returned form that arrives before the instance waits for it is buffered
    early = harness.engine.publish_message("pep-form-returned", "PEP-1", {"formDocumentId": "F1"}, time_to_live=timedelta(hours=2))
    assert early.correlated_instances == [] and early.buffered

    started = harness.engine.publish_message("child-looked-after", "C-1", {"childId": "C-1", "pepId": "PEP-1"})
    [key] = started.started_instances
    # the buffered form message was taken in at once
    assert harness.active(key) == ["RecordMeetingTask"]
    assert harness.engine.instance(key).variables["formDocumentId"] == "F1"

    # one active instance per correlation key for a message start event
    again = harness.engine.publish_message("child-looked-after", "C-1", {"childId": "C-1", "pepId": "PEP-1"})
    assert again.started_instances == []

    harness.restart()
    # a message for another child does not touch this instance
    harness.engine.publish_message("education-setting-changed", "C-2", {})
    assert harness.active(key) == ["RecordMeetingTask"]
    result = harness.engine.publish_message("education-setting-changed", "C-1", {"newSettingId": "S-9"})
    assert result.correlated_instances == [key]
    assert harness.engine.instance(key).state == "COMPLETED"
    assert "SettingChangedEndEvent" in harness.completed(key)
    assert harness.engine.instance(key).variables["newSettingId"] == "S-9"


def test_buffered_message_expires_after_its_time_to_live(harness):
    harness.deploy("messages.bpmn")
    harness.engine.publish_message("pep-form-returned", "PEP-2", {}, time_to_live=timedelta(minutes=30))
    harness.clock.advance(timedelta(hours=1))
    [key] = harness.engine.publish_message("child-looked-after", "C-2", {"childId": "C-2", "pepId": "PEP-2"}).started_instances
    assert harness.active(key) == ["FormReturnedEvent"]
    harness.engine.publish_message("pep-form-returned", "PEP-2", {})
    assert harness.active(key) == ["RecordMeetingTask"]


def test_message_id_makes_publishing_idempotent(harness):
    harness.deploy("messages.bpmn")
    harness.engine.publish_message("pep-form-returned", "PEP-3", {}, message_id="upload-1")
    with pytest.raises(InvalidState):
        harness.engine.publish_message("pep-form-returned", "PEP-3", {}, message_id="upload-1")


# ---------------------------------------------------------------------- gateways
def test_exclusive_gateway_condition_and_default_flow(harness):
    harness.deploy("gateways.bpmn")
    early = harness.engine.create_instance("gateways", {"age": 3, "inSetting": False, "pepId": "P"})
    assert harness.active(early) == ["EarlyYearsTask"]
    school = harness.engine.create_instance("gateways", {"age": 3, "inSetting": True, "pepId": "P"})
    assert sorted(harness.active(school)) == ["NotifyVirtualSchoolTask", "SendFormTask"]


def test_parallel_join_waits_for_both_branches_then_event_gateway_takes_the_first_event(harness):
    harness.deploy("gateways.bpmn")
    key = harness.engine.create_instance("gateways", {"age": 9, "inSetting": True, "pepId": "PEP-G"})
    harness.engine.complete_job(harness.one_job("send-form").key, {"formSent": True})
    assert harness.active(key) == ["NotifyVirtualSchoolTask"]
    harness.restart()
    harness.engine.complete_job(harness.one_job("notify-virtual-school").key, {"vsNotified": True})
    assert harness.active(key) == ["FormOrMeetingGateway"]  # the gateway holds the token, as in Operate
    variables = harness.engine.instance(key).variables
    assert variables["formSent"] is True and variables["vsNotified"] is True

    harness.engine.publish_message("form-back", "PEP-G", {})
    assert harness.engine.instance(key).state == "COMPLETED"
    assert "FormBackEndEvent" in harness.completed(key) and "NoFormEndEvent" not in harness.completed(key)
    harness.clock.advance(timedelta(days=8))
    assert harness.engine.next_timer_due() is None


def test_event_gateway_timer_wins_when_no_message_comes(harness):
    harness.deploy("gateways.bpmn")
    key = harness.engine.create_instance("gateways", {"age": 9, "inSetting": True, "pepId": "PEP-H"})
    harness.engine.complete_job(harness.one_job("send-form").key)
    harness.engine.complete_job(harness.one_job("notify-virtual-school").key)
    harness.clock.advance(timedelta(days=7))
    assert harness.engine.instance(key).state == "COMPLETED"
    assert "NoFormEndEvent" in harness.completed(key)
    assert harness.engine.publish_message("form-back", "PEP-H", {}, time_to_live=timedelta(0)).correlated_instances == []


# ------------------------------------------------ subprocesses and multi-instance
def test_error_in_embedded_subprocess_is_caught_on_the_subprocess_boundary(harness):
    harness.deploy("subprocesses.bpmn")
    key = harness.engine.create_instance("subprocesses", {"childId": "C-5", "attendeeIds": ["a"]})
    assert sorted(harness.active(key)) == ["GenerateFinalPepTask", "TermSubProcess"]
    harness.restart()
    harness.engine.throw_error(harness.one_job("generate-final-pep").key, "document-broken", "bad template")
    assert harness.active(key) == ["FixDocumentTask"]
    assert "TermSubProcess" in harness.terminated(key)


def test_parallel_multi_instance_sends_to_every_attendee_and_collects_output(harness):
    harness.deploy("subprocesses.bpmn")
    key = harness.engine.create_instance("subprocesses", {"childId": "C-6", "attendeeIds": ["dt-1", "carer-2", "iro-3"]})
    harness.engine.complete_job(harness.one_job("generate-final-pep").key)
    jobs = harness.engine.activate_jobs("send-to-attendee", "w")
    assert sorted(j.variables["attendeeId"] for j in jobs) == ["carer-2", "dt-1", "iro-3"]
    harness.restart()
    for job in jobs:
        harness.engine.complete_job(job.key, {"receipt": f"sent to {job.variables['attendeeId']}"})
    assert harness.active(key) == ["WaitForeverTask"]
    variables = harness.engine.instance(key).variables
    assert sorted(variables["receipts"]) == ["sent to carer-2", "sent to dt-1", "sent to iro-3"]
    assert "attendeeId" not in variables  # the input element stays local to each instance


def test_the_waiting_tasks_are_those_of_the_tree_each_once_subworkflows_included(harness):
    """The reconciler reads the waiting tasks from each workflow's task table: the same
    tasks as walking the tree (which from the top also walks into the subworkflows),
    none twice, those waiting inside an embedded subprocess included."""
    from pepflow.engine.shared import WAIT_STATES, waiting_tasks, workflows

    harness.deploy("subprocesses.bpmn")
    key = harness.engine.create_instance("subprocesses", {"childId": "C-9", "attendeeIds": ["dt-1", "carer-2"]})
    core = harness.engine.core
    with core.operation() as op:
        workflow = core.load(op, key).workflow
    walked = {task.id for wf in workflows(workflow) for task in wf.get_tasks(state=WAIT_STATES)}
    read = [task.id for task in waiting_tasks(workflow)]
    assert len(read) == len(set(read)) and set(read) == walked
    in_subworkflows = {task.id for wf in workflow.subprocesses.values() for task in wf.tasks.values()}
    assert set(read) & in_subworkflows  # the term subprocess's token waits inside its subworkflow


def test_interrupting_event_subprocess_ends_the_rest_of_the_process(harness):
    harness.deploy("subprocesses.bpmn")
    key = harness.engine.create_instance("subprocesses", {"childId": "C-7", "attendeeIds": []})
    other = harness.engine.create_instance("subprocesses", {"childId": "C-8", "attendeeIds": []})
    assert "GenerateFinalPepTask" in harness.active(key)
    harness.engine.publish_message("child-left-care", "C-7", {"leftCareOn": "2026-10-01"})
    assert harness.active(key) == ["CloseCaseTask", "LeftCareEventSubProcess"] or harness.active(key) == ["CloseCaseTask"]
    assert "GenerateFinalPepTask" not in harness.active(key)
    harness.restart()
    close = harness.one_job("close-case")
    # the event subprocess sees the process variables and the message's own
    assert close.variables["childId"] == "C-7" and close.variables["leftCareOn"] == "2026-10-01"
    harness.engine.complete_job(close.key)
    assert harness.engine.instance(key).state == "COMPLETED"
    assert "GenerateFinalPepTask" in harness.active(other)


# ------------------------------------------------------------------------- loops
def test_a_loop_run_60_times_keeps_the_stored_state_bounded(harness):
    harness.deploy("loop.bpmn")
    key = harness.engine.create_instance("loop", {"count": 0, "limit": 60})
    sizes = []
    for round_ in range(60):
        job = harness.one_job("work")
        harness.engine.complete_job(job.key)
        if round_ == 30:
            harness.restart()
        harness.clock.advance(timedelta(days=1))
        sizes.append(harness.engine.stored_state_bytes(key) if round_ < 59 else None)
    assert harness.engine.instance(key).state == "COMPLETED"
    assert harness.engine.instance(key).variables["count"] == 60
    assert max(s for s in sizes if s) <= 64 * 1024
    assert sizes[50] <= sizes[5] + 256  # does not grow with the loop count


@pytest.mark.parametrize("notify_after", [0, 10])
def test_a_loop_beside_a_branch_that_ended_keeps_the_stored_state_bounded(harness, notify_after):
    """The PEP process's shape: one branch of a parallel split ends (its end join
    waits near the start of the tree) while the other loops through a sub-process.
    The finished cycles are cut away all the same, whenever the short branch ends."""
    harness.deploy("loop_beside_ended_branch.bpmn")
    key = harness.engine.create_instance("loop_beside_ended_branch", {"count": 0, "limit": 40})
    sizes = []
    for round_ in range(40):
        if round_ == notify_after:
            harness.engine.complete_job(harness.one_job("notify").key)
        harness.engine.complete_job(harness.one_job("work").key, {"count": round_ + 1})
        if round_ == 20:
            harness.restart()
        harness.clock.advance(timedelta(days=1))
        if round_ < 39:
            sizes.append(harness.engine.stored_state_bytes(key))
            waiting = ["CycleSubProcess", "WorkTask"] + (["NotifyTask"] if round_ < notify_after else [])
            assert sorted(harness.active(key)) == sorted(waiting)
    instance = harness.engine.instance(key)
    assert instance.state == "COMPLETED" and instance.variables["count"] == 40
    assert harness.completed(key).count("WorkTask") == 40
    assert harness.completed(key).count("NotifyTask") == 1
    assert sizes[35] <= sizes[notify_after + 5] + 256  # does not grow with the loop count


# -------------------------------------------------------------------- deployment
def _process(body: str, extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D" targetNamespace="x">'
        f'<bpmn:process id="broken" isExecutable="true"><bpmn:startEvent id="BrokenStartEvent"/>{body}</bpmn:process>{extra}'
        "</bpmn:definitions>"
    ).encode()


@pytest.mark.parametrize(
    ("body", "extra", "expected"),
    [
        ('<bpmn:scriptTask id="ComputeTask"/>', "", "scriptTask 'ComputeTask'"),
        ('<bpmn:serviceTask id="NoTypeTask"/>', "", "NoTypeTask"),
        (
            '<bpmn:serviceTask id="WeirdTask"><bpmn:extensionElements><zeebe:taskDefinition type="x"/>'
            '<zeebe:ioMapping><zeebe:input source="=for x in y return x" target="z"/></zeebe:ioMapping>'
            "</bpmn:extensionElements></bpmn:serviceTask>",
            "",
            "WeirdTask",
        ),
        ('<bpmn:inclusiveGateway id="MaybeGateway"/>', "", "inclusiveGateway 'MaybeGateway'"),
        (
            '<bpmn:userTask id="FormTask"><bpmn:extensionElements><zeebe:formDefinition formId="nowhere"/>'
            "</bpmn:extensionElements></bpmn:userTask>",
            "",
            "nowhere",
        ),
        (
            '<bpmn:serviceTask id="ScriptedTask"><bpmn:extensionElements><zeebe:script expression="=1" resultVariable="x"/>'
            "</bpmn:extensionElements></bpmn:serviceTask>",
            "",
            "zeebe:script",
        ),
        (
            '<bpmn:intermediateCatchEvent id="BadTimerEvent"><bpmn:timerEventDefinition><bpmn:timeDuration>soon</bpmn:timeDuration>'
            "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>",
            "",
            "BadTimerEvent",
        ),
    ],
)
def test_unsupported_or_invalid_diagrams_are_refused_naming_the_element(harness, body, extra, expected):
    with pytest.raises(DeploymentError) as error:
        harness.engine.deploy([("broken.bpmn", _process(body, extra))])
    assert expected in str(error.value)
    with pytest.raises(Exception):
        harness.engine.latest_definition("broken")


def test_nothing_is_half_deployed(harness):
    good = (DIAGRAMS / "jobs.bpmn").read_bytes()
    with pytest.raises(DeploymentError):
        harness.engine.deploy([("jobs.bpmn", good), ("broken.bpmn", _process('<bpmn:scriptTask id="X"/>'))])
    with pytest.raises(Exception):
        harness.engine.latest_definition("jobs")
    harness.restart()
    with pytest.raises(Exception):
        harness.engine.latest_definition("jobs")


def test_redeploying_the_same_diagram_keeps_its_version(harness):
    first = harness.deploy("jobs.bpmn")
    second = harness.deploy("jobs.bpmn")
    assert first.processes[0].version == second.processes[0].version == 1


def test_an_undefined_task_is_passed_through_as_in_zeebe(harness):
    xml = _process(
        '<bpmn:task id="NoteOnlyTask"/><bpmn:endEvent id="NoteEndEvent"/>'
        '<bpmn:sequenceFlow id="Flow_A" sourceRef="BrokenStartEvent" targetRef="NoteOnlyTask"/>'
        '<bpmn:sequenceFlow id="Flow_B" sourceRef="NoteOnlyTask" targetRef="NoteEndEvent"/>'
    )
    harness.engine.deploy([("notes.bpmn", xml)])
    key = harness.engine.create_instance("broken")
    assert harness.engine.instance(key).state == "COMPLETED"
    assert "NoteOnlyTask" in harness.completed(key)


def test_searching_user_tasks_filters_counts_and_pages_in_the_database(harness):
    harness.deploy("user_task.bpmn", "review-pep.form")
    for n in range(7):
        harness.engine.create_instance("approval", {
            "ownerUserId": "sw-1" if n % 2 else "sw-2", "team": ["north" if n < 4 else "south"],
            "reviewDueAt": iso(timedelta(days=n)), "childId": f"C-000{n}", "pepId": f"PEP-C-000{n}-2026-AUT",
        })
    total, page = harness.engine.search_user_tasks(candidate_groups=["north"], limit=2)
    assert total == 4 and [t.variables["childId"] for t in page] == ["C-0000", "C-0001"]
    total, page = harness.engine.search_user_tasks(candidate_groups=["north"], offset=2, limit=2)
    assert [t.variables["childId"] for t in page] == ["C-0002", "C-0003"]
    total, page = harness.engine.search_user_tasks(assignee="sw-1", descending=True)
    assert total == 3 and [t.variables["childId"] for t in page] == ["C-0005", "C-0003", "C-0001"]
    total, page = harness.engine.search_user_tasks(variable_matches=[("childId", "C-0004", False), ("pepId", "PEP-C-0006", True)])
    assert sorted(t.variables["childId"] for t in page) == ["C-0004", "C-0006"]
    harness.clock.advance(timedelta(days=3, hours=1))
    total, _ = harness.engine.search_user_tasks(overdue_at=harness.clock.now())
    assert total == 4  # due on days 0..3
    total, _ = harness.engine.search_user_tasks(candidate_groups=[])
    assert total == 0
