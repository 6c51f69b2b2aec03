"""The operator's commands on the gateway facade (``pepflow/zeebe/facade/operator.py``),
over gRPC and the REST API v2: what the embedded engine does with Zeebe's semantics,
and Zeebe's answers where it cannot. What the real cluster answers the same way is in
``tests/conformance`` (deletion, job timeouts, decisions, signals, unknown instances)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import grpc
import httpx
import pytest
from pyzeebe import create_insecure_channel
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto import gateway_pb2_grpc as pb_grpc

from pepflow.clock import SimulationClock
from pepflow.engine.errors import NotFound
from pepflow.engine.runtime import Engine
from pepflow.zeebe.facade import FacadeServer

from .conftest import DIAGRAMS

T0 = datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
async def facade(tmp_path):
    clock = SimulationClock(T0)
    engine = Engine(f"sqlite:///{tmp_path / 'engine.sqlite3'}", clock)
    server = await FacadeServer(engine, "127.0.0.1:0", rest_address="127.0.0.1:0", clock_controlled=True).start()
    channel = create_insecure_channel(server.target)
    http = httpx.AsyncClient(base_url=server.rest_url, timeout=30)
    try:
        yield engine, clock, pb_grpc.GatewayStub(channel), http
    finally:
        await http.aclose()
        await channel.close()
        await server.stop()
        engine.close()


async def _deploy(stub, *resources):
    response = await stub.DeployResource(pb.DeployResourceRequest(
        resources=[pb.Resource(name=n, content=c) for n, c in resources]
    ))
    return response.deployments


def _file(name: str) -> tuple[str, bytes]:
    return (name, (DIAGRAMS / name).read_bytes())


async def _refused(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value.code(), info.value.details()


async def _start(stub, process_id: str, variables: dict | None = None) -> int:
    response = await stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(
        bpmnProcessId=process_id, version=-1, variables=json.dumps(variables or {})
    ))
    return response.processInstanceKey


async def _activate(stub, job_type: str, timeout_ms: int = 30_000):
    request = pb.ActivateJobsRequest(type=job_type, worker="test", timeout=timeout_ms, maxJobsToActivate=1, requestTimeout=2000)
    return [job async for response in stub.ActivateJobs(request) for job in response.jobs]


# ------------------------------------------------------------------ job timeout
async def test_update_job_timeout_moves_the_deadline_of_an_activated_job_only(facade):
    engine, clock, stub, http = facade
    await _deploy(stub, _file("jobs.bpmn"))
    await _start(stub, "jobs", {"pepId": "P-1", "sendRetries": 1})
    [job] = await _activate(stub, "prepare-document", timeout_ms=10_000)
    await stub.UpdateJobTimeout(pb.UpdateJobTimeoutRequest(jobKey=job.key, timeout=3_600_000))
    assert engine.job(job.key).deadline == clock.now() + timedelta(hours=1)
    # over REST too, with Camunda's changeset
    response = await http.patch(f"/v2/jobs/{job.key}", json={"changeset": {"timeout": 7_200_000, "retries": 5}})
    assert response.status_code == 204, response.text
    assert engine.job(job.key).deadline == clock.now() + timedelta(hours=2)
    assert engine.job(job.key).retries == 5
    response = await http.patch(f"/v2/jobs/{job.key}", json={"changeset": {}})
    assert (response.status_code, response.json()["detail"]) == (400, "At least one field between retries or timeout is required")

    await _start(stub, "jobs", {"pepId": "P-2", "sendRetries": 1})
    waiting = next(j for j in engine.jobs() if j.state == "ACTIVATABLE")
    code, details = await _refused(stub.UpdateJobTimeout(pb.UpdateJobTimeoutRequest(jobKey=waiting.job_key, timeout=60_000)))
    assert (code, details) == (grpc.StatusCode.FAILED_PRECONDITION, f"Expected to update the timeout of job with key '{waiting.job_key}', but it is not active")
    response = await http.patch(f"/v2/jobs/{waiting.job_key}", json={"changeset": {"timeout": 60_000}})
    assert (response.status_code, response.json()["title"]) == (409, "INVALID_STATE")
    code, details = await _refused(stub.UpdateJobTimeout(pb.UpdateJobTimeoutRequest(jobKey=2251799813685999, timeout=60_000)))
    assert (code, details) == (grpc.StatusCode.NOT_FOUND, "Expected to update job with key '2251799813685999', but no such job was found")
    # a job past its deadline is not active any more
    clock.set(clock.now() + timedelta(hours=3))
    code, _details = await _refused(stub.UpdateJobTimeout(pb.UpdateJobTimeoutRequest(jobKey=job.key, timeout=60_000)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION


# ------------------------------------------------------------- resource deletion
async def test_deleting_a_form_version_links_the_previous_one_and_survives_a_restart(facade, tmp_path):
    engine, _clock, stub, http = facade
    first = await _deploy(stub, _file("user_task.bpmn"), _file("review-pep.form"))
    changed = json.loads((DIAGRAMS / "review-pep.form").read_text())
    changed["components"][0]["label"] = "Changed label"
    [second] = await _deploy(stub, ("review-pep.form", json.dumps(changed).encode()))
    assert second.form.version == 2
    assert engine.form("review-pep").schema["components"][0]["label"] == "Changed label"
    response = await http.post(f"/v2/resources/{second.form.formKey}/deletion", json={})
    assert response.status_code == 200 and response.json() == {"resourceKey": str(second.form.formKey), "batchOperation": None}
    assert engine.form("review-pep").schema["components"][0]["label"] != "Changed label"
    reopened = Engine(engine.store.url, SimulationClock(T0))
    try:
        assert reopened.form("review-pep").schema["components"][0]["label"] != "Changed label"
    finally:
        reopened.close()
    [first_form] = [d.form for d in first if d.HasField("form")]
    await stub.DeleteResource(pb.DeleteResourceRequest(resourceKey=first_form.formKey))
    with pytest.raises(NotFound):
        engine.form("review-pep")
    response = await http.post(f"/v2/resources/{first_form.formKey}/deletion", json={})
    assert response.status_code == 404
    assert response.json()["detail"] == f"Expected to delete resource but no resource found with key `{first_form.formKey}`"


async def test_deleting_a_process_definition_twice_while_it_drains_is_invalid_state(facade):
    _engine, _clock, stub, _http = facade
    [deployed] = await _deploy(stub, _file("jobs.bpmn"))
    await _start(stub, "jobs", {"pepId": "P-1", "sendRetries": 1})
    await stub.DeleteResource(pb.DeleteResourceRequest(resourceKey=deployed.process.processDefinitionKey))
    code, details = await _refused(stub.DeleteResource(pb.DeleteResourceRequest(resourceKey=deployed.process.processDefinitionKey)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert details == f"Expected to delete process definition with key `{deployed.process.processDefinitionKey}`, but it is already being deleted."
    code, _details = await _refused(_start(stub, "jobs"))
    assert code == grpc.StatusCode.NOT_FOUND


# ----------------------------------------------- what the embedded engine cannot do
async def test_modification_answers_as_zeebe_for_an_unsupported_instruction(facade):
    engine, _clock, stub, http = facade
    await _deploy(stub, _file("jobs.bpmn"))
    key = await _start(stub, "jobs", {"pepId": "P-1", "sendRetries": 1})
    await stub.ModifyProcessInstance(pb.ModifyProcessInstanceRequest(processInstanceKey=key))  # nothing to do: accepted
    Activate = pb.ModifyProcessInstanceRequest.ActivateInstruction
    code, details = await _refused(stub.ModifyProcessInstance(pb.ModifyProcessInstanceRequest(
        processInstanceKey=key, activateInstructions=[Activate(elementId="NoSuchElement")]
    )))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == ("Expected to modify instance of process 'jobs' but it contains one or more activate instructions"
                       " with an element that could not be found: 'NoSuchElement'")
    [element] = [e for e in engine.instance(key).active_elements]
    code, details = await _refused(stub.ModifyProcessInstance(pb.ModifyProcessInstanceRequest(
        processInstanceKey=key, activateInstructions=[Activate(elementId=element)]
    )))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith(f"Expected to modify instance of process 'jobs' but it contains one or more activate "
                              f"instructions for elements that are unsupported: '{element}'.")
    response = await http.post(f"/v2/process-instances/{key}/modification",
                               json={"terminateInstructions": [{"elementInstanceKey": "123"}]})
    assert (response.status_code, response.json()["title"]) == (400, "INVALID_ARGUMENT")
    assert engine.instance(key).active_elements == [element]  # nothing changed


async def test_migration_is_refused_as_an_unsupported_migration(facade):
    _engine, _clock, stub, http = facade
    [deployed] = await _deploy(stub, _file("jobs.bpmn"))
    key = await _start(stub, "jobs", {"pepId": "P-1", "sendRetries": 1})
    Plan = pb.MigrateProcessInstanceRequest.MigrationPlan
    code, _details = await _refused(stub.MigrateProcessInstance(pb.MigrateProcessInstanceRequest(
        processInstanceKey=key, migrationPlan=Plan(targetProcessDefinitionKey=deployed.process.processDefinitionKey)
    )))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    response = await http.post(f"/v2/process-instances/{key}/migration",
                               json={"migrationPlan": {"targetProcessDefinitionKey": "2251799813685998", "mappingInstructions": []}})
    assert response.status_code == 404
    assert response.json()["detail"] == ("Expected to migrate process instance to process definition but no process "
                                         "definition found with key '2251799813685998'")


async def test_decisions_and_signals_over_rest(facade):
    _engine, _clock, _stub, http = facade
    response = await http.post("/v2/decision-definitions/evaluation", json={"decisionDefinitionId": "pepRisk", "variables": {}})
    assert response.status_code == 404
    assert response.json()["detail"] == "Expected to evaluate decision 'pepRisk', but no decision found for id 'pepRisk'"
    response = await http.post("/v2/decision-definitions/evaluation", json={})
    assert response.status_code == 400
    response = await http.post("/v2/signals/broadcast", json={"signalName": "nobody-listens"})
    assert response.status_code == 200 and int(response.json()["signalKey"]) > 0
    response = await http.post("/v2/signals/broadcast", json={"signalName": "x", "tenantId": "north"})
    assert response.status_code == 400


# ---------------------------------------------------- element instances and clock
async def test_element_instances_and_a_pinned_clock_over_rest(facade):
    engine, clock, stub, http = facade
    await _deploy(stub, _file("timers.bpmn"))
    key = await _start(stub, "timers", {"meetingDueAt": "2026-10-01T09:00:00Z", "meetingAt": "2026-10-08T09:00:00Z"})
    found = (await http.post("/v2/element-instances/search", json={"filter": {"processInstanceKey": str(key), "state": "ACTIVE"}})).json()
    assert [(i["elementId"], i["type"]) for i in found["items"]] == [("ArrangeMeetingTask", "USER_TASK")]
    # Camunda's clock endpoint: three days on, the reminder (R2/P3D) fired
    response = await http.put("/v2/clock", json={"timestamp": int((T0 + timedelta(days=3, minutes=1)).timestamp() * 1000)})
    assert response.status_code == 204, response.text
    assert clock.now() == T0 + timedelta(days=3, minutes=1)
    assert "SendReminderTask" in engine.instance(key).active_elements
    found = (await http.post("/v2/element-instances/search", json={"filter": {"processInstanceKey": str(key), "elementId": "ReminderEvent"}})).json()
    assert [i["state"] for i in found["items"]] == ["COMPLETED"]
    response = await http.put("/v2/clock", json={"timestamp": int(T0.timestamp() * 1000)})
    assert response.status_code == 400  # a simulation never goes back


async def test_the_clock_is_not_for_hire_unless_controlled(tmp_path):
    engine = Engine(f"sqlite:///{tmp_path / 'engine.sqlite3'}", SimulationClock(T0))
    server = await FacadeServer(engine, "127.0.0.1:0", rest_address="127.0.0.1:0").start()
    try:
        async with httpx.AsyncClient(base_url=server.rest_url) as http:
            response = await http.put("/v2/clock", json={"timestamp": 0})
        assert response.status_code == 403
    finally:
        await server.stop()
        engine.close()
