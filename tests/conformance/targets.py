"""The engines a conformance test runs against, behind one small interface.

- ``embedded``: :class:`pepflow.engine.runtime.Engine` called directly (strict mode);
- ``facade``: the same engine behind the gateway facade, driven as a Camunda 8 client
  drives a cluster - gRPC (Zeebe's gateway protocol, pyzeebe's stubs) for deploy,
  start, publish and jobs; the REST API v2 for user tasks and incidents;
- ``camunda``: the real orchestration cluster (``camunda/camunda`` at the version in
  ``.env``) in a container, driven exactly like the facade. Needs Docker.

Every rejection is reported as the gRPC status name Zeebe gives (``INVALID_ARGUMENT``,
``NOT_FOUND``, ``ALREADY_EXISTS``, ``FAILED_PRECONDITION``), so one expected result
holds for all three.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import grpc
import httpx
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto import gateway_pb2_grpc as pb_grpc

from pepflow.clock import SimulationClock
from pepflow.engine.errors import EngineError
from pepflow.engine.runtime import Engine
from pepflow.zeebe.facade import FacadeServer
from pepflow.zeebe.facade.common import _status_for

DIAGRAMS = Path(__file__).parent / "diagrams"
T0 = datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc)


class Rejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def diagram(name: str, resource_name: str | None = None) -> tuple[str, bytes]:
    return (resource_name or name, (DIAGRAMS / name).read_bytes())


class Embedded:
    name = "embedded"

    def __init__(self, url: str) -> None:
        self.clock = SimulationClock(T0)
        self.engine = Engine(url, self.clock)

    def close(self) -> None:
        self.engine.close()

    def _code(self, exc: EngineError) -> str:
        if "already published" in str(exc):
            return "ALREADY_EXISTS"
        return _status_for(exc).name

    def deploy(self, *resources: tuple[str, bytes]) -> list[tuple[str, int]]:
        try:
            deployment = self.engine.deploy(list(resources))
        except EngineError as exc:
            raise Rejected(self._code(exc), str(exc)) from None
        return [(p.bpmn_process_id, p.version) for p in deployment.processes]

    def start(self, process_id: str, variables: dict) -> int:
        try:
            return self.engine.create_instance(process_id, variables)
        except EngineError as exc:
            raise Rejected(self._code(exc), str(exc)) from None

    def publish(self, name: str, key: str, variables: dict | None = None, *, ttl: timedelta = timedelta(hours=1),
                message_id: str | None = None) -> None:
        try:
            self.engine.publish_message(name, key, variables or {}, time_to_live=ttl, message_id=message_id)
        except EngineError as exc:
            raise Rejected(self._code(exc), str(exc)) from None

    def user_tasks(self, instance: int, expect: int = 1) -> list[dict]:
        return [
            {
                "elementId": t.element_id, "assignee": t.assignee, "candidateGroups": t.candidate_groups,
                "dueDate": t.due_date.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if t.due_date else None,
            }
            for t in self.engine.user_tasks(process_instance_key=instance)
        ]

    def incidents(self, instance: int, expect: int = 1) -> list[tuple[str, str]]:
        return [(i.element_id, i.error_type) for i in self.engine.incidents(process_instance_key=instance)]

    def throw_error(self, job_type: str, code: str) -> None:
        [job] = self.engine.activate_jobs(job_type, "conformance", max_jobs=1)
        self.engine.throw_error(job.key, code, "thrown by the conformance suite")

    def complete_job(self, job_key: int) -> None:
        try:
            self.engine.complete_job(job_key, {})
        except EngineError as exc:
            raise Rejected(self._code(exc), str(exc)) from None

    def is_completed(self, instance: int) -> bool:
        return self.engine.instance(instance).state == "COMPLETED"

    # ------------------------------------------------------- operator commands
    def _rejected(self, fn, *args):
        try:
            return fn(*args)
        except EngineError as exc:
            raise Rejected(self._code(exc), str(exc)) from None

    def deploy_keys(self, *resources: tuple[str, bytes]) -> list[tuple[str, int, int]]:
        deployment = self._rejected(self.engine.deploy, list(resources))
        return [(p.bpmn_process_id, p.version, p.process_definition_key) for p in deployment.processes]

    def start_version(self, process_id: str, version: int) -> int:
        return self._rejected(lambda: self.engine.create_instance(process_id, {}, version=version))

    def instance_version(self, instance: int) -> int:
        return self.engine.instance(instance).version

    def instance_state(self, instance: int) -> str:
        return self.engine.instance(instance).state

    def delete_resource(self, key: int) -> None:
        self._rejected(self.engine.delete_resource, key)

    def activate(self, job_type: str, timeout_ms: int = 60_000) -> int:
        [job] = self.engine.activate_jobs(job_type, "conformance", max_jobs=1, timeout=timedelta(milliseconds=timeout_ms))
        return job.key

    def update_job_timeout(self, job_key: int, timeout_ms: int) -> None:
        self._rejected(self.engine.update_job_timeout, job_key, timedelta(milliseconds=timeout_ms))


class Cluster:
    """A Camunda 8 gateway (gRPC) and its REST API v2: the facade or the real thing."""

    name = "cluster"
    #: how long a search may lag behind a command (the real cluster's exporter)
    settle_seconds = 15.0

    def __init__(self, grpc_address: str, rest_url: str) -> None:
        self.channel = grpc.insecure_channel(grpc_address)
        self.stub = pb_grpc.GatewayStub(self.channel)
        self.http = httpx.Client(base_url=rest_url, timeout=30)

    def close(self) -> None:
        self.channel.close()
        self.http.close()

    def _rpc(self, method: str, request):
        try:
            return getattr(self.stub, method)(request, timeout=30)
        except grpc.RpcError as exc:
            raise Rejected(exc.code().name, exc.details() or "") from None

    def deploy(self, *resources: tuple[str, bytes]) -> list[tuple[str, int]]:
        response = self._rpc("DeployResource", pb.DeployResourceRequest(
            resources=[pb.Resource(name=name, content=content) for name, content in resources]
        ))
        return [(d.process.bpmnProcessId, d.process.version) for d in response.deployments if d.HasField("process")]

    def start(self, process_id: str, variables: dict) -> int:
        response = self._rpc("CreateProcessInstance", pb.CreateProcessInstanceRequest(
            bpmnProcessId=process_id, version=-1, variables=json.dumps(variables)
        ))
        return response.processInstanceKey

    def publish(self, name: str, key: str, variables: dict | None = None, *, ttl: timedelta = timedelta(hours=1),
                message_id: str | None = None) -> None:
        self._rpc("PublishMessage", pb.PublishMessageRequest(
            name=name, correlationKey=key, variables=json.dumps(variables or {}),
            timeToLive=int(ttl.total_seconds() * 1000), messageId=message_id or "",
        ))

    def _search(self, path: str, body: dict, expect: int) -> list[dict]:
        deadline = time.monotonic() + self.settle_seconds
        while True:
            response = self.http.post(path, json=body)
            response.raise_for_status()
            items = response.json()["items"]
            if len(items) >= expect or time.monotonic() > deadline:
                return items
            time.sleep(0.2)

    def user_tasks(self, instance: int, expect: int = 1) -> list[dict]:
        items = self._search("/v2/user-tasks/search", {"filter": {"processInstanceKey": str(instance)}}, expect)
        return [
            {
                "elementId": i["elementId"], "assignee": i.get("assignee"), "candidateGroups": i.get("candidateGroups") or [],
                "dueDate": _utc(i.get("dueDate")),
            }
            for i in items if i["state"] == "CREATED"
        ]

    def incidents(self, instance: int, expect: int = 1) -> list[tuple[str, str]]:
        items = self._search("/v2/incidents/search", {"filter": {"processInstanceKey": str(instance)}}, expect)
        return [(i["elementId"], i["errorType"]) for i in items if i["state"] == "ACTIVE"]

    def throw_error(self, job_type: str, code: str) -> None:
        jobs: list = []
        deadline = time.monotonic() + max(self.settle_seconds, 5.0)
        while not jobs and time.monotonic() < deadline:
            for response in self.stub.ActivateJobs(pb.ActivateJobsRequest(
                type=job_type, worker="conformance", timeout=60_000, maxJobsToActivate=1, requestTimeout=2_000,
            ), timeout=30):
                jobs.extend(response.jobs)
        [job] = jobs
        self._rpc("ThrowError", pb.ThrowErrorRequest(jobKey=job.key, errorCode=code, errorMessage="thrown by the conformance suite"))

    def complete_job(self, job_key: int) -> None:
        self._rpc("CompleteJob", pb.CompleteJobRequest(jobKey=job_key, variables="{}"))

    # ------------------------------------------------------- operator commands
    def deploy_keys(self, *resources: tuple[str, bytes]) -> list[tuple[str, int, int]]:
        response = self._rpc("DeployResource", pb.DeployResourceRequest(
            resources=[pb.Resource(name=name, content=content) for name, content in resources]
        ))
        return [
            (d.process.bpmnProcessId, d.process.version, d.process.processDefinitionKey)
            for d in response.deployments if d.HasField("process")
        ]

    def start_version(self, process_id: str, version: int) -> int:
        return self._rpc("CreateProcessInstance", pb.CreateProcessInstanceRequest(
            bpmnProcessId=process_id, version=version, variables="{}"
        )).processInstanceKey

    def _instance(self, instance: int) -> dict:
        deadline = time.monotonic() + self.settle_seconds
        while True:
            response = self.http.get(f"/v2/process-instances/{instance}")
            if response.status_code == 200 or time.monotonic() > deadline:
                response.raise_for_status()
                return response.json()
            time.sleep(0.2)

    def instance_version(self, instance: int) -> int:
        return self._instance(instance)["processDefinitionVersion"]

    def instance_state(self, instance: int) -> str:
        return self._instance(instance)["state"]

    def delete_resource(self, key: int) -> None:
        self._rpc("DeleteResource", pb.DeleteResourceRequest(resourceKey=key))

    def activate(self, job_type: str, timeout_ms: int = 60_000) -> int:
        jobs: list = []
        deadline = time.monotonic() + max(self.settle_seconds, 5.0)
        while not jobs and time.monotonic() < deadline:
            for response in self.stub.ActivateJobs(pb.ActivateJobsRequest(
                type=job_type, worker="conformance", timeout=timeout_ms, maxJobsToActivate=1, requestTimeout=2_000,
            ), timeout=30):
                jobs.extend(response.jobs)
        [job] = jobs
        return job.key

    def update_job_timeout(self, job_key: int, timeout_ms: int) -> None:
        self._rpc("UpdateJobTimeout", pb.UpdateJobTimeoutRequest(jobKey=job_key, timeout=timeout_ms))

    # gateway commands with no engine API of their own
    def deploy_for_tenant(self, tenant_id: str, *resources: tuple[str, bytes]) -> None:
        self._rpc("DeployResource", pb.DeployResourceRequest(
            resources=[pb.Resource(name=name, content=content) for name, content in resources], tenantId=tenant_id,
        ))

    def evaluate_decision(self, decision_id: str) -> None:
        self._rpc("EvaluateDecision", pb.EvaluateDecisionRequest(decisionId=decision_id, variables="{}"))

    def broadcast_signal(self, name: str) -> int:
        return self._rpc("BroadcastSignal", pb.BroadcastSignalRequest(signalName=name, variables="{}")).key

    def modify(self, instance: int, activate: list[str]) -> None:
        self._rpc("ModifyProcessInstance", pb.ModifyProcessInstanceRequest(
            processInstanceKey=instance,
            activateInstructions=[pb.ModifyProcessInstanceRequest.ActivateInstruction(elementId=e) for e in activate],
        ))

    def migrate(self, instance: int, target_definition_key: int) -> None:
        self._rpc("MigrateProcessInstance", pb.MigrateProcessInstanceRequest(
            processInstanceKey=instance,
            migrationPlan=pb.MigrateProcessInstanceRequest.MigrationPlan(targetProcessDefinitionKey=target_definition_key),
        ))

    def is_completed(self, instance: int) -> bool:
        deadline = time.monotonic() + self.settle_seconds
        while True:
            response = self.http.get(f"/v2/process-instances/{instance}")
            if response.status_code == 200 and response.json()["state"] == "COMPLETED":
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)


def _utc(value: str | None) -> str | None:
    if not value:
        return None
    instant = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    return instant.replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Facade(Cluster):
    """The embedded engine behind :class:`FacadeServer`, on a loop in its own thread."""

    name = "facade"
    settle_seconds = 0.0

    def __init__(self, url: str) -> None:
        self.clock = SimulationClock(T0)
        self.engine = Engine(url, self.clock)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="conformance-facade", daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            FacadeServer(self.engine, "127.0.0.1:0", rest_address="127.0.0.1:0").start(), self.loop
        ).result(30)
        super().__init__(self.server.target, self.server.rest_url)

    def close(self) -> None:
        super().close()
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.engine.close()


def normalise(tasks: list[dict]) -> list[dict]:
    """Due dates to the second in UTC, whatever precision an engine prints."""
    return [{**t, "dueDate": _utc(t["dueDate"])} for t in tasks]


__all__ = ["Cluster", "Embedded", "Facade", "Rejected", "diagram", "normalise", "Any"]
