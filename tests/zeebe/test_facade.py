"""The gateway facade answers as a Zeebe gateway does, for pyzeebe's client and worker
and for raw gRPC calls (status codes included)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pyzeebe import ZeebeClient, ZeebeWorker, create_insecure_channel
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto import gateway_pb2_grpc as pb_grpc

from pepflow.clock import SimulationClock, SystemClock
from pepflow.engine.runtime import Engine
from pepflow.zeebe.facade import FacadeServer, serve_facade
from pepflow.zeebe.service import serve_worker

from .conftest import DIAGRAMS, free_port


@pytest.fixture
async def gateway(tmp_path):
    engine = Engine(f"sqlite:///{tmp_path / 'engine.sqlite3'}", SystemClock())
    server = await FacadeServer(engine, "127.0.0.1:0").start()
    channel = create_insecure_channel(server.target)
    try:
        yield engine, server, channel, pb_grpc.GatewayStub(channel)
    finally:
        await channel.close()
        await server.stop()
        engine.close()


async def _deploy(stub, *names):
    resources = [pb.Resource(name=name, content=(DIAGRAMS / name).read_bytes()) for name in names]
    return await stub.DeployResource(pb.DeployResourceRequest(resources=resources))


async def _activate(stub, job_type, request_timeout=2000, **kwargs):
    request = pb.ActivateJobsRequest(
        type=job_type, worker="test", timeout=kwargs.pop("timeout", 30_000),
        maxJobsToActivate=kwargs.pop("max_jobs", 10), requestTimeout=request_timeout, **kwargs,
    )
    return [job async for response in stub.ActivateJobs(request) for job in response.jobs]


async def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value.code()


async def test_topology_and_health(gateway):
    _engine, server, channel, stub = gateway
    topology = await stub.Topology(pb.TopologyRequest())
    assert topology.clusterSize == 1 and topology.partitionsCount == 1
    assert topology.brokers[0].port == server.port
    assert topology.brokers[0].partitions[0].role == pb.Partition.LEADER
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "gateway_protocol.Gateway"):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_deploy_create_and_work_jobs_with_pyzeebe_client(gateway):
    engine, _server, channel, stub = gateway
    client = ZeebeClient(channel)
    deployed = await client.deploy_resource(str(DIAGRAMS / "jobs.bpmn"), str(DIAGRAMS / "user_task.bpmn"), str(DIAGRAMS / "review-pep.form"))
    kinds = sorted(type(d).__name__ for d in deployed.deployments)
    assert kinds == ["FormMetadata", "ProcessMetadata", "ProcessMetadata"]
    created = await client.run_process("jobs", {"pepId": "P-1", "sendRetries": 3})
    assert created.bpmn_process_id == "jobs" and created.version == 1

    [job] = await _activate(stub, "prepare-document", fetchVariable=["pepId", "documentName"])
    assert json.loads(job.variables) == {"pepId": "P-1", "documentName": "DOC-P-1"}
    assert json.loads(job.customHeaders) == {"template": "pep-form"}
    assert job.processInstanceKey == created.process_instance_key and job.retries == 2
    assert job.deadline > datetime.now(timezone.utc).timestamp() * 1000
    await stub.CompleteJob(pb.CompleteJobRequest(jobKey=job.key, variables=json.dumps({"documentId": "D-1"})))
    assert await _code(stub.CompleteJob(pb.CompleteJobRequest(jobKey=job.key))) == grpc.StatusCode.NOT_FOUND
    assert engine.instance(created.process_instance_key).active_elements == ["SendDocumentTask"]

    # a process started by key, and with result
    by_key = await stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(processDefinitionKey=created.process_definition_key, variables='{"pepId": "P-2", "sendRetries": 1}'))
    assert by_key.bpmnProcessId == "jobs"


async def test_errors_map_to_zeebe_status_codes(gateway):
    _engine, _server, _channel, stub = gateway
    await _deploy(stub, "jobs.bpmn", "messages.bpmn")
    assert await _code(stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(bpmnProcessId="nope"))) == grpc.StatusCode.NOT_FOUND
    assert await _code(stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(bpmnProcessId="jobs", variables="[1]"))) == grpc.StatusCode.INVALID_ARGUMENT
    assert await _code(stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(bpmnProcessId="jobs", variables="{"))) == grpc.StatusCode.INVALID_ARGUMENT
    # a message start only: no none start event
    assert await _code(stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(bpmnProcessId="messages"))) == grpc.StatusCode.FAILED_PRECONDITION
    bad = pb.Resource(name="broken.bpmn", content=b"<not-bpmn/>")
    assert await _code(stub.DeployResource(pb.DeployResourceRequest(resources=[bad]))) == grpc.StatusCode.INVALID_ARGUMENT
    assert await _code(stub.CancelProcessInstance(pb.CancelProcessInstanceRequest(processInstanceKey=42))) == grpc.StatusCode.NOT_FOUND
    assert await _code(stub.FailJob(pb.FailJobRequest(jobKey=42, retries=1))) == grpc.StatusCode.NOT_FOUND
    assert await _code(stub.ResolveIncident(pb.ResolveIncidentRequest(incidentKey=42))) == grpc.StatusCode.NOT_FOUND
    assert await _code(stub.UpdateJobRetries(pb.UpdateJobRetriesRequest(jobKey=42, retries=0))) == grpc.StatusCode.INVALID_ARGUMENT
    assert await _code(_activate(stub, "")) == grpc.StatusCode.INVALID_ARGUMENT
    assert await _code(stub.PublishMessage(pb.PublishMessageRequest(name="m", tenantId="other"))) == grpc.StatusCode.INVALID_ARGUMENT
    first = pb.PublishMessageRequest(name="pep-form-returned", correlationKey="P-1", timeToLive=60_000, messageId="once")
    await stub.PublishMessage(first)
    assert await _code(stub.PublishMessage(first)) == grpc.StatusCode.ALREADY_EXISTS


async def test_activate_jobs_long_polls_until_a_job_comes(gateway):
    _engine, _server, _channel, stub = gateway
    await _deploy(stub, "jobs.bpmn")
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await _activate(stub, "prepare-document", request_timeout=400) == []
    assert 0.35 <= loop.time() - started < 2.0  # waited for the long poll, then answered empty

    async def start_later():
        await asyncio.sleep(0.3)
        await stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(bpmnProcessId="jobs", variables='{"pepId": "P-9", "sendRetries": 1}'))

    starter = asyncio.create_task(start_later())
    started = loop.time()
    jobs = await _activate(stub, "prepare-document", request_timeout=10_000)
    await starter
    assert len(jobs) == 1 and loop.time() - started < 3.0  # woken by the new job, not at the timeout


async def test_fail_job_backoff_retries_incident_and_resolve(gateway):
    engine, _server, _channel, stub = gateway
    await _deploy(stub, "jobs.bpmn")
    created = await stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(bpmnProcessId="jobs", variables='{"pepId": "P-3", "sendRetries": 1}'))
    [job] = await _activate(stub, "prepare-document")
    await stub.FailJob(pb.FailJobRequest(jobKey=job.key, retries=1, errorMessage="relay down", retryBackOff=600))
    assert await _activate(stub, "prepare-document", request_timeout=-1) == []  # still backing off
    [again] = await _activate(stub, "prepare-document", request_timeout=5000)  # after the backoff
    assert again.key == job.key and again.retries == 1
    await stub.FailJob(pb.FailJobRequest(jobKey=job.key, retries=0, errorMessage="relay down for good"))
    [incident] = engine.incidents(process_instance_key=created.processInstanceKey)
    assert incident.error_type == "JOB_NO_RETRIES"
    # as in Zeebe: retries first, then resolve
    assert await _code(stub.ResolveIncident(pb.ResolveIncidentRequest(incidentKey=incident.incident_key))) == grpc.StatusCode.FAILED_PRECONDITION
    await stub.UpdateJobRetries(pb.UpdateJobRetriesRequest(jobKey=job.key, retries=2))
    await stub.ResolveIncident(pb.ResolveIncidentRequest(incidentKey=incident.incident_key))
    [revived] = await _activate(stub, "prepare-document")
    assert revived.retries == 2


async def test_throw_error_set_variables_cancel_and_stream(gateway):
    engine, _server, _channel, stub = gateway
    await _deploy(stub, "jobs.bpmn")
    created = await stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(bpmnProcessId="jobs", variables='{"pepId": "P-4", "sendRetries": 1}'))
    key = created.processInstanceKey
    await stub.SetVariables(pb.SetVariablesRequest(elementInstanceKey=key, variables='{"note": "set over gRPC"}'))
    stream = stub.StreamActivatedJobs(pb.StreamActivatedJobsRequest(type="prepare-document", worker="streamer", timeout=30_000))
    job = await asyncio.wait_for(stream.read(), timeout=5)
    stream.cancel()
    assert json.loads(job.variables)["note"] == "set over gRPC"
    await stub.SetVariables(pb.SetVariablesRequest(elementInstanceKey=job.elementInstanceKey, variables='{"more": 1}'))
    await stub.ThrowError(pb.ThrowErrorRequest(jobKey=job.key, errorCode="setting-unknown", errorMessage="no setting"))
    view = engine.instance(key)
    assert view.state == "COMPLETED"
    assert "SettingUnknownEvent" in [h.element_id for h in engine.history(key)]

    other = await stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(bpmnProcessId="jobs", variables='{"pepId": "P-5", "sendRetries": 1}'))
    await stub.CancelProcessInstance(pb.CancelProcessInstanceRequest(processInstanceKey=other.processInstanceKey))
    assert engine.instance(other.processInstanceKey).state == "CANCELED"


async def test_create_with_result_and_deprecated_deploy_process(gateway):
    engine, _server, channel, stub = gateway
    await stub.DeployProcess(pb.DeployProcessRequest(processes=[pb.ProcessRequestObject(name="jobs.bpmn", definition=(DIAGRAMS / "jobs.bpmn").read_bytes())]))

    async def worker():
        for job_type, result in (("prepare-document", {"documentId": "D-7"}), ("send-document", {"sent": True})):
            [job] = await _activate(stub, job_type, request_timeout=5000)
            await stub.CompleteJob(pb.CompleteJobRequest(jobKey=job.key, variables=json.dumps(result)))

    task = asyncio.create_task(worker())
    result = await ZeebeClient(channel).run_process_with_result("jobs", {"pepId": "P-7", "sendRetries": 1}, timeout=10_000, variables_to_fetch=["formDocumentId"])
    await task
    assert result.variables == {"formDocumentId": "D-7"}


async def test_pyzeebe_worker_finishes_the_job_in_hand_when_stopped(gateway):
    """What SIGTERM does in the worker service: no new jobs, the running one completes."""
    engine, _server, channel, stub = gateway
    await _deploy(stub, "jobs.bpmn")
    created = await stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(bpmnProcessId="jobs", variables='{"pepId": "P-8", "sendRetries": 1}'))
    worker = ZeebeWorker(channel, name="slow-worker", request_timeout=1000)
    started = asyncio.Event()

    @worker.task(task_type="prepare-document", timeout_ms=30_000)
    async def prepare_document(documentName: str):
        started.set()
        await asyncio.sleep(0.5)  # stopped while this runs
        return {"documentId": documentName}

    stop = asyncio.Event()
    serving = asyncio.create_task(serve_worker(worker, stop, grace=10))
    await asyncio.wait_for(started.wait(), timeout=10)
    stop.set()
    await asyncio.wait_for(serving, timeout=10)
    view = engine.instance(created.processInstanceKey)
    assert view.active_elements == ["SendDocumentTask"]  # the job in hand was completed
    assert engine.jobs(created.processInstanceKey)[0].state == "ACTIVATABLE"  # and nothing more was taken


async def test_facade_refuses_a_port_in_use_and_a_public_address(tmp_path):
    engine = Engine(f"sqlite:///{tmp_path / 'e.sqlite3'}", SimulationClock(datetime(2026, 9, 7, tzinfo=timezone.utc)))
    try:
        with pytest.raises(ValueError, match="loopback"):
            FacadeServer(engine, "0.0.0.0:26500")
        port = free_port()
        first = await FacadeServer(engine, f"127.0.0.1:{port}").start()
        try:
            with pytest.raises(OSError, match="cannot listen"):  # no SO_REUSEPORT: a second server cannot bind
                await FacadeServer(engine, f"127.0.0.1:{port}").start()
        finally:
            await first.stop()
        # serve_facade runs until cancelled
        serving = asyncio.create_task(serve_facade(engine, f"127.0.0.1:{port}"))
        channel = create_insecure_channel(f"127.0.0.1:{port}")
        for _ in range(50):
            try:
                await pb_grpc.GatewayStub(channel).Topology(pb.TopologyRequest(), timeout=1)
                break
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("serve_facade did not come up")
        await channel.close()
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
    finally:
        engine.close()
