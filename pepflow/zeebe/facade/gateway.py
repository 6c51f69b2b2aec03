"""The gRPC Gateway service of the facade (Zeebe's ``gateway_protocol.Gateway``).

A ``grpc.aio`` server implementing the ``gateway_protocol.Gateway`` service from the
stubs pyzeebe ships (``pyzeebe.proto``), so that unchanged Zeebe clients - the worker
service (``python -m workers``), ``zbctl``, pyzeebe's ``ZeebeClient`` - deploy, start
instances, publish messages and work jobs against :class:`pepflow.engine.runtime.Engine`.

Implemented: Topology, DeployResource and the deprecated DeployProcess,
CreateProcessInstance (and WithResult), CancelProcessInstance, ActivateJobs (long
polling), StreamActivatedJobs, CompleteJob, FailJob (retries and backoff), ThrowError,
UpdateJobRetries, SetVariables, PublishMessage, ResolveIncident, and the standard gRPC
health service; the operator's RPCs (UpdateJobTimeout, DeleteResource, BroadcastSignal,
EvaluateDecision, ModifyProcessInstance, MigrateProcessInstance) answer as Zeebe does
(:mod:`.operator` says how far each goes). Like the broker, the facade fires
timers itself (user tasks are worked on the engine directly: in Camunda 8 that is
Tasklist's job, over REST, not the gateway's).

It has no authentication and no TLS: it listens on a loopback address only.

Engine errors map to the status codes Zeebe uses: ``NotFound`` -> NOT_FOUND,
``InvalidState`` -> FAILED_PRECONDITION (ALREADY_EXISTS for a duplicate message id),
``DeploymentError``/``InvalidVariables``/``ExpressionError``/bad JSON -> INVALID_ARGUMENT.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import grpc
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto import gateway_pb2_grpc as pb_grpc

from pepflow.engine.errors import EngineError, InvalidState, NotFound
from pepflow.engine.runtime import Engine
from pepflow.engine.views import ActivatedJob, Deployment

from .common import (
    DEFAULT_LONG_POLL_MS,
    DEFAULT_TENANT,
    DEFAULT_WITH_RESULT_MS,
    GATEWAY_VERSION,
    _Abort,
    _millis,
    _Signal,
    _status_for,
    _tenant,
    _tenants,
    _variables,
)
from .operator import OperatorRpcs

log = logging.getLogger(__name__)


def _unary(method: Callable) -> Callable:
    """Map facade and engine errors of a unary RPC to gRPC status codes."""

    @functools.wraps(method)
    async def wrapper(self: GatewayFacade, request, context: grpc.aio.ServicerContext):
        try:
            return await method(self, request, context)
        except _Abort as exc:
            await context.abort(exc.code, exc.message)
        except EngineError as exc:
            code = _status_for(exc)
            if code == grpc.StatusCode.INTERNAL:
                log.exception("%s failed", method.__name__)
            await context.abort(code, str(exc))
        except (TypeError, ValueError) as exc:  # variables that are not JSON values, bad numbers
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

    return wrapper


class GatewayFacade(OperatorRpcs, pb_grpc.GatewayServicer):
    """The Gateway service over one :class:`Engine`."""

    EvaluateDecision = _unary(OperatorRpcs.EvaluateDecision)
    ModifyProcessInstance = _unary(OperatorRpcs.ModifyProcessInstance)
    MigrateProcessInstance = _unary(OperatorRpcs.MigrateProcessInstance)
    UpdateJobTimeout = _unary(OperatorRpcs.UpdateJobTimeout)
    DeleteResource = _unary(OperatorRpcs.DeleteResource)
    BroadcastSignal = _unary(OperatorRpcs.BroadcastSignal)

    def __init__(self, engine: Engine, *, host: str = "127.0.0.1", port: int = 26500, executor=None) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self._executor = executor
        self._signal: _Signal | None = None
        self._definitions: dict[int, tuple[str, int]] = {}
        # element instance key -> process instance key, for the jobs handed out
        self._elements: dict[int, int] = {}

    # ------------------------------------------------------------------ plumbing
    def attach(self, loop: asyncio.AbstractEventLoop) -> _Signal:
        self._signal = _Signal(loop)
        self.engine.add_listener(self._signal.notify_threadsafe)
        return self._signal

    async def _call(self, fn: Callable, *args, **kwargs):
        """Run a synchronous engine operation off the event loop (they are ms-level
        and serialised by the engine's own lock)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def _wake(self) -> None:
        if self._signal is not None:
            self._signal.notify_threadsafe()

    async def _wait_for_change(self, seconds: float) -> None:
        assert self._signal is not None, "GatewayFacade.attach() was not called"
        await self._signal.wait(seconds)

    def _seconds_to_next_job(self) -> float | None:
        due = self.engine.next_job_due()
        if due is None:
            return None
        return (due - self.engine.clock.now()).total_seconds()

    # ------------------------------------------------------------------ cluster
    @_unary
    async def Topology(self, request, context):
        partition = pb.Partition(partitionId=1, role=pb.Partition.LEADER, health=pb.Partition.HEALTHY)
        broker = pb.BrokerInfo(nodeId=0, host=self.host, port=self.port, partitions=[partition], version=GATEWAY_VERSION)
        return pb.TopologyResponse(
            brokers=[broker], clusterSize=1, partitionsCount=1, replicationFactor=1, gatewayVersion=GATEWAY_VERSION
        )

    # --------------------------------------------------------------- deployment
    def _remember(self, deployment: Deployment) -> None:
        for process in deployment.processes:
            self._definitions[process.process_definition_key] = (process.bpmn_process_id, process.version)

    @_unary
    async def DeployResource(self, request, context):
        _tenant(request.tenantId, "DeployResource")
        if not request.resources:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "a deployment needs at least one resource")
        resources = [(r.name, bytes(r.content)) for r in request.resources]
        deployment = await self._call(self.engine.deploy, resources)
        self._remember(deployment)
        items = [
            pb.Deployment(process=pb.ProcessMetadata(
                bpmnProcessId=p.bpmn_process_id, version=p.version, processDefinitionKey=p.process_definition_key,
                resourceName=p.resource_name, tenantId=DEFAULT_TENANT,
            ))
            for p in deployment.processes
        ] + [
            pb.Deployment(form=pb.FormMetadata(
                formId=f.form_id, version=f.version, formKey=f.form_key, resourceName=f.resource_name,
                tenantId=DEFAULT_TENANT,
            ))
            for f in deployment.forms
        ]
        return pb.DeployResourceResponse(key=deployment.key, deployments=items, tenantId=DEFAULT_TENANT)

    @_unary
    async def DeployProcess(self, request, context):
        """Deprecated since Zeebe 8.0, and what plain ``zbctl deploy`` still calls."""
        if not request.processes:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "a deployment needs at least one process")
        resources = [(p.name, bytes(p.definition)) for p in request.processes]
        for name, _content in resources:
            if not (name.endswith(".bpmn") or name.endswith(".bpmn20.xml")):
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name}: DeployProcess takes BPMN only; use DeployResource")
        deployment = await self._call(self.engine.deploy, resources)
        self._remember(deployment)
        return pb.DeployProcessResponse(
            key=deployment.key,
            processes=[
                pb.ProcessMetadata(
                    bpmnProcessId=p.bpmn_process_id, version=p.version, processDefinitionKey=p.process_definition_key,
                    resourceName=p.resource_name, tenantId=DEFAULT_TENANT,
                )
                for p in deployment.processes
            ],
        )

    # ---------------------------------------------------------------- instances
    def _process_for(self, request) -> tuple[str, int | None]:
        if request.processDefinitionKey:
            known = self._definitions.get(request.processDefinitionKey)
            if known is None:
                # deployed before this facade started: the engine keeps them by key
                definition = self.engine.core.definitions.get(request.processDefinitionKey)
                if definition is None:
                    raise _Abort(grpc.StatusCode.NOT_FOUND, f"no process definition with key {request.processDefinitionKey}")
                known = (definition.bpmn_process_id, definition.version)
            return known
        if not request.bpmnProcessId:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "bpmnProcessId or processDefinitionKey is required")
        return request.bpmnProcessId, (None if request.version in (0, -1) else request.version)

    async def _create(self, request, rpc: str = "CreateProcessInstance") -> tuple[int, Any]:
        _tenant(request.tenantId, rpc)
        if len(request.startInstructions):
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "start instructions are not supported by the embedded engine")
        process_id, version = self._process_for(request)
        variables = _variables(request.variables)
        key = await self._call(self.engine.create_instance, process_id, variables, version=version)
        self._wake()
        instance = await self._call(self.engine.instance, key)
        return key, instance

    @_unary
    async def CreateProcessInstance(self, request, context):
        key, instance = await self._create(request)
        return pb.CreateProcessInstanceResponse(
            processDefinitionKey=instance.process_definition_key, bpmnProcessId=instance.bpmn_process_id,
            version=instance.version, processInstanceKey=key, tenantId=DEFAULT_TENANT,
        )

    @_unary
    async def CreateProcessInstanceWithResult(self, request, context):
        timeout_ms = request.requestTimeout if request.requestTimeout > 0 else DEFAULT_WITH_RESULT_MS
        key, instance = await self._create(request.request, "CreateProcessInstanceWithResult")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000
        while instance.state == "ACTIVE":
            left = deadline - loop.time()
            if left <= 0:
                raise _Abort(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"process instance {key} did not complete within {timeout_ms} ms",
                )
            await self._wait_for_change(min(left, 0.25))  # commits without jobs do not signal: poll too
            instance = await self._call(self.engine.instance, key)
        if instance.state != "COMPLETED":
            raise _Abort(grpc.StatusCode.ABORTED, f"process instance {key} was {instance.state.lower()}")
        variables = dict(instance.variables)
        if len(request.fetchVariables):
            variables = {k: v for k, v in variables.items() if k in set(request.fetchVariables)}
        return pb.CreateProcessInstanceWithResultResponse(
            processDefinitionKey=instance.process_definition_key, bpmnProcessId=instance.bpmn_process_id,
            version=instance.version, processInstanceKey=key, variables=json.dumps(variables), tenantId=DEFAULT_TENANT,
        )

    @_unary
    async def CancelProcessInstance(self, request, context):
        try:
            await self._call(self.engine.cancel_instance, request.processInstanceKey)
        except InvalidState as exc:  # Zeebe: an instance that is not active is not found
            raise _Abort(grpc.StatusCode.NOT_FOUND, str(exc)) from None
        return pb.CancelProcessInstanceResponse()

    @_unary
    async def SetVariables(self, request, context):
        variables = _variables(request.variables)
        key = request.elementInstanceKey
        instance_key = await self._call(self._instance_of_element, key)
        if request.local and instance_key != key:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "local variables on an element below the process are not supported by the embedded engine",
            )
        await self._call(self.engine.set_variables, instance_key, variables)
        self._wake()
        return pb.SetVariablesResponse(key=instance_key)

    def _instance_of_element(self, key: int) -> int:
        """The process instance an element instance key belongs to: the process itself,
        or the element of a job this facade handed out (the element keys a client sees)."""
        try:
            self.engine.instance(key)
            return key
        except NotFound:
            pass
        instance_key = self._elements.get(key)
        if instance_key is None:
            raise NotFound(f"no element instance {key}")
        return instance_key

    # ------------------------------------------------------------------- messages
    @_unary
    async def PublishMessage(self, request, context):
        _tenant(request.tenantId, "PublishMessage")
        if not request.name:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "a message needs a name")
        variables = _variables(request.variables)
        try:
            result = await self._call(
                self.engine.publish_message, request.name, request.correlationKey, variables,
                time_to_live=timedelta(milliseconds=max(0, request.timeToLive)), message_id=request.messageId or None,
            )
        except InvalidState as exc:  # the same messageId while the first is still buffered
            raise _Abort(grpc.StatusCode.ALREADY_EXISTS, str(exc)) from None
        self._wake()
        return pb.PublishMessageResponse(key=result.message_key, tenantId=DEFAULT_TENANT)

    # ----------------------------------------------------------------- incidents
    @_unary
    async def ResolveIncident(self, request, context):
        await self._call(self._resolve_incident, request.incidentKey)
        self._wake()
        return pb.ResolveIncidentResponse()

    def _resolve_incident(self, incident_key: int) -> None:
        incident = next((i for i in self.engine.incidents(state=None) if i.incident_key == incident_key), None)
        if incident is None:
            raise NotFound(f"no incident {incident_key}")
        if incident.state != "ACTIVE":
            raise NotFound(f"incident {incident_key} is already resolved")
        if incident.job_key is not None:
            # as in Zeebe: a job incident is resolved after its retries were raised
            with contextlib.suppress(NotFound):
                if self.engine.job(incident.job_key).retries < 1:
                    raise InvalidState(
                        f"job {incident.job_key} has no retries left; update its retries before resolving incident {incident_key}"
                    )
        self.engine.resolve_incident(incident_key)

    # ---------------------------------------------------------------------- jobs
    def _activated(self, job: ActivatedJob) -> pb.ActivatedJob:
        self._elements[job.element_instance_key] = job.process_instance_key
        if len(self._elements) > 100_000:
            self._elements.pop(next(iter(self._elements)))
        return pb.ActivatedJob(
            key=job.key, type=job.type, processInstanceKey=job.process_instance_key, bpmnProcessId=job.bpmn_process_id,
            processDefinitionVersion=job.process_definition_version, processDefinitionKey=job.process_definition_key,
            elementId=job.element_id, elementInstanceKey=job.element_instance_key,
            customHeaders=json.dumps(job.custom_headers), worker=job.worker, retries=job.retries,
            deadline=_millis(job.deadline), variables=json.dumps(job.variables), tenantId=DEFAULT_TENANT,
        )

    def _check_activation(self, request, *, max_jobs: int | None, rpc: str = "ActivateJobs") -> None:
        if not request.type:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "a job type is required")
        if request.timeout < 1:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "the job timeout must be at least 1 ms")
        if max_jobs is not None and max_jobs < 1:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "maxJobsToActivate must be at least 1")
        _tenants(request.tenantIds, rpc)

    async def _activate(self, request, max_jobs: int) -> list[ActivatedJob]:
        return await self._call(
            self.engine.activate_jobs, request.type, request.worker or "default", max_jobs=max_jobs,
            timeout=timedelta(milliseconds=request.timeout), fetch_variables=list(request.fetchVariable) or None,
        )

    async def ActivateJobs(self, request, context) -> AsyncIterator[pb.ActivateJobsResponse]:
        """Long polling: answer as soon as jobs are there, or empty at requestTimeout
        (a negative requestTimeout answers at once)."""
        try:
            self._check_activation(request, max_jobs=request.maxJobsToActivate)
        except _Abort as exc:
            await context.abort(exc.code, exc.message)
        loop = asyncio.get_running_loop()
        long_poll_ms = DEFAULT_LONG_POLL_MS if request.requestTimeout == 0 else request.requestTimeout
        deadline = loop.time() + max(0, long_poll_ms) / 1000
        while True:
            try:
                jobs = await self._activate(request, request.maxJobsToActivate)
            except EngineError as exc:
                await context.abort(_status_for(exc), str(exc))
            if jobs:
                yield pb.ActivateJobsResponse(jobs=[self._activated(j) for j in jobs])
                return
            left = deadline - loop.time()
            if left <= 0:
                return  # the empty answer of a long poll that found nothing
            next_job = await self._call(self._seconds_to_next_job)
            if next_job is not None:
                left = min(left, max(0.01, next_job))
            await self._wait_for_change(left)

    async def StreamActivatedJobs(self, request, context) -> AsyncIterator[pb.ActivatedJob]:
        """Job push: every job of the type, as it becomes activatable, until the client
        closes the stream."""
        try:
            self._check_activation(request, max_jobs=None, rpc="StreamActivatedJobs")
        except _Abort as exc:
            await context.abort(exc.code, exc.message)
        while True:
            try:
                jobs = await self._activate(request, 32)
            except EngineError as exc:
                await context.abort(_status_for(exc), str(exc))
            for job in jobs:
                yield self._activated(job)
            if jobs:
                continue
            next_job = await self._call(self._seconds_to_next_job)
            await self._wait_for_change(30.0 if next_job is None else min(30.0, max(0.01, next_job)))

    @_unary
    async def CompleteJob(self, request, context):
        await self._call(self.engine.complete_job, request.jobKey, _variables(request.variables))
        self._wake()
        return pb.CompleteJobResponse()

    @_unary
    async def FailJob(self, request, context):
        if request.retries < 0:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "retries must not be negative")
        await self._call(
            self.engine.fail_job, request.jobKey, request.retries, request.errorMessage,
            retry_backoff=timedelta(milliseconds=max(0, request.retryBackOff)),
            variables=_variables(request.variables) or None,
        )
        self._wake()
        return pb.FailJobResponse()

    @_unary
    async def ThrowError(self, request, context):
        if not request.errorCode:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "a BPMN error needs an errorCode")
        await self._call(
            self.engine.throw_error, request.jobKey, request.errorCode, request.errorMessage,
            variables=_variables(request.variables) or None,
        )
        self._wake()
        return pb.ThrowErrorResponse()

    @_unary
    async def UpdateJobRetries(self, request, context):
        if request.retries < 1:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "retries must be at least 1")
        await self._call(self.engine.update_job_retries, request.jobKey, request.retries)
        return pb.UpdateJobRetriesResponse()

    # -------------------------------------------------------------------- timers
    async def fire_timers(self, stop: asyncio.Event, *, max_idle: float = 30.0) -> None:
        """What the broker does on its own: fire timers when they fall due (and wake
        long polls when a job's backoff or timeout ends)."""
        while not stop.is_set():
            try:
                fired = await self._call(self.engine.fire_due_timers)
                if fired:
                    self._wake()
                    continue
                dues = await self._call(lambda: [d for d in (self.engine.next_timer_due(), self.engine.next_job_due()) if d])
            except Exception:  # noqa: BLE001 - an incident-worthy timer must not stop the gateway
                log.exception("firing timers failed; trying again")
                dues = []
            wait = max_idle
            if dues:
                wait = min(max_idle, max(0.0, (min(dues) - self.engine.clock.now()).total_seconds()))
                if wait == 0.0:
                    self._wake()  # a backoff or job timeout ended: long polls look again
                    wait = 0.05
            await self._wait_for_change(wait)


