"""The facade's Orchestration Cluster REST API (v2): the part the product and its users need.

Camunda 8.8+ serves ``/v2`` beside the gRPC gateway; Tasklist, the SDKs and scripts
use it, and Camunda user tasks are worked only there. This module serves the same
paths, bodies and answers over the embedded engine, so a REST client
(``camunda-orchestration-sdk``, ``@camunda8/orchestration-cluster-api``, curl) runs a
PEP against the facade as against a cluster:

=========================================  ==============================================
``GET  /v2/topology``                      one broker, one partition
``POST /v2/deployments``                   multipart ``resources`` (BPMN and forms)
``POST /v2/process-instances``             by ``processDefinitionId`` (+version) or key
``POST /v2/process-instances/search``      filter: key, processDefinitionId, state
``GET  /v2/process-instances/{key}``
``POST /v2/process-instances/{key}/cancellation``
``POST /v2/messages/publication``          name, correlationKey, timeToLive, messageId
``POST /v2/messages/correlation``          404 when no subscription waits
``POST /v2/jobs/activation``               long polling up to ``requestTimeout``
``POST /v2/jobs/{key}/completion|failure|error``
``POST /v2/user-tasks/search``             filter: state, assignee, candidateGroup, ...
``GET  /v2/user-tasks/{key}``
``POST /v2/user-tasks/{key}/assignment``   ``DELETE /v2/user-tasks/{key}/assignee``
``POST /v2/user-tasks/{key}/completion``
``POST /v2/user-tasks/{key}/variables/search``
``POST /v2/variables/search``              process-level variables
``PUT  /v2/element-instances/{key}/variables``
``POST /v2/incidents/search``              ``POST /v2/incidents/{key}/resolution``
=========================================  ==============================================

and the operator's endpoints, element-instance search and the clock of
:mod:`.rest_operator`.

Keys are strings, as in the API. Errors are RFC 9457 problem documents with the
status Camunda uses: 400 invalid argument, 404 not found, 409 invalid state or a
duplicate (``pepflow.engine.strict.REST_ERRORS``). No authentication: loopback only.
Variable keys are derived from the scope and the name (the engine keeps no
variable records); they are stable for a variable's lifetime.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pepflow.engine.errors import (
    DeploymentError,
    EngineError,
    ExpressionError,
    InvalidState,
    InvalidVariables,
    NotFound,
)
from pepflow.engine.views import Incident, ProcessInstance, UserTask

from .common import DEFAULT_TENANT, GATEWAY_VERSION, _Abort
from .gateway import GatewayFacade

log = logging.getLogger(__name__)

MAX_PAGE = 1000


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def _problem_for(exc: Exception) -> Problem:
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, NotFound):
        return Problem(404, "NOT_FOUND", str(exc))
    if isinstance(exc, InvalidState):
        title = "ALREADY_EXISTS" if "already published" in str(exc) else "INVALID_STATE"
        return Problem(409, title, str(exc))
    if isinstance(exc, (DeploymentError, InvalidVariables, ExpressionError, ValueError, TypeError)):
        return Problem(400, "INVALID_ARGUMENT", str(exc))
    if isinstance(exc, _Abort):
        return Problem(400, exc.code.name, exc.message)
    return Problem(500, "INTERNAL", str(exc))


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _key(value: Any, what: str) -> int:
    try:
        key = int(value)
    except (TypeError, ValueError):
        raise Problem(400, "INVALID_ARGUMENT", f"{what} must be a key (a number as a string), not {value!r}") from None
    if key <= 0:
        raise Problem(404, "NOT_FOUND", f"no {what} {value}")
    return key


def _variable_key(scope: int, name: str) -> str:
    digest = hashlib.sha256(f"{scope}:{name}".encode()).digest()
    return str(int.from_bytes(digest[:8], "big") & ((1 << 62) - 1) or 1)


def _plain(value: Any) -> Any:
    """A filter value: plain, or Camunda's advanced form ``{"$eq": value}``."""
    if isinstance(value, dict):
        if "$eq" in value:
            return value["$eq"]
        raise Problem(400, "INVALID_ARGUMENT", f"only plain and $eq filters are supported, not {sorted(value)}")
    return value


def _page(items: list, body: dict) -> dict:
    page = body.get("page") or {}
    start = int(page.get("from", 0) or 0)
    limit = min(int(page.get("limit", 100) or 100), MAX_PAGE)
    chosen = items[start:start + limit]
    return {
        "items": chosen,
        "page": {"totalItems": len(items), "hasMoreTotalItems": False, "startCursor": None, "endCursor": None},
    }


def _tenant(body: dict, request: str) -> None:
    """As the cluster's REST gateway without multi-tenancy: the default tenant only."""
    tenant = body.get("tenantId")
    if tenant not in (None, "", DEFAULT_TENANT):
        raise Problem(
            400, "INVALID_ARGUMENT",
            f"Expected to handle request {request} with tenant identifier '{tenant}', but multi-tenancy is disabled",
        )


def _variables_of(body: dict, field: str = "variables") -> dict[str, Any]:
    value = body.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Problem(400, "INVALID_ARGUMENT", f"{field} must be a JSON object, not {type(value).__name__}")
    return value


class RestApi:
    """Handlers of ``/v2`` over the gateway's engine (sharing its wake-up signal)."""

    def __init__(self, gateway: GatewayFacade, *, clock_controlled: bool = False) -> None:
        self.gateway = gateway
        self.engine = gateway.engine
        self.clock_controlled = clock_controlled

    # ------------------------------------------------------------------ plumbing
    async def _body(self, request: Request) -> dict:
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise Problem(400, "INVALID_ARGUMENT", f"the request body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise Problem(400, "INVALID_ARGUMENT", "the request body must be a JSON object")
        return body

    def app(self) -> Starlette:
        def route(path: str, handler, method: str) -> Route:
            async def endpoint(request: Request) -> Response:
                try:
                    result = await handler(request)
                except Exception as exc:  # noqa: BLE001 - every error becomes a problem document
                    problem = _problem_for(exc)
                    if problem.status == 500:
                        log.exception("%s %s failed", method, path)
                    return JSONResponse(
                        {"type": "about:blank", "title": problem.title, "status": problem.status,
                         "detail": problem.detail, "instance": request.url.path},
                        status_code=problem.status, media_type="application/problem+json",
                    )
                if result is None:
                    return Response(status_code=204)
                return JSONResponse(result)

            return Route(path, endpoint, methods=[method])

        routes = [
            route("/v2/topology", self.topology, "GET"),
            route("/v2/deployments", self.deploy, "POST"),
            route("/v2/process-instances", self.create_instance, "POST"),
            route("/v2/process-instances/search", self.search_instances, "POST"),
            route("/v2/process-instances/{key}", self.get_instance, "GET"),
            route("/v2/process-instances/{key}/cancellation", self.cancel_instance, "POST"),
            route("/v2/messages/publication", self.publish, "POST"),
            route("/v2/messages/correlation", self.correlate, "POST"),
            route("/v2/jobs/activation", self.activate_jobs, "POST"),
            route("/v2/jobs/{key}/completion", self.complete_job, "POST"),
            route("/v2/jobs/{key}/failure", self.fail_job, "POST"),
            route("/v2/jobs/{key}/error", self.throw_error, "POST"),
            route("/v2/user-tasks/search", self.search_user_tasks, "POST"),
            route("/v2/user-tasks/{key}", self.get_user_task, "GET"),
            route("/v2/user-tasks/{key}/assignment", self.assign, "POST"),
            route("/v2/user-tasks/{key}/assignee", self.unassign, "DELETE"),
            route("/v2/user-tasks/{key}/completion", self.complete_user_task, "POST"),
            route("/v2/user-tasks/{key}/variables/search", self.user_task_variables, "POST"),
            route("/v2/variables/search", self.search_variables, "POST"),
            route("/v2/element-instances/{key}/variables", self.set_variables, "PUT"),
            route("/v2/incidents/search", self.search_incidents, "POST"),
            route("/v2/incidents/{key}/resolution", self.resolve_incident, "POST"),
        ]
        from .rest_operator import OperatorRoutes

        routes += OperatorRoutes(self, clock_controlled=self.clock_controlled).routes(route)
        return Starlette(routes=routes)

    async def _call(self, fn, *args, **kwargs):
        return await self.gateway._call(fn, *args, **kwargs)

    # ------------------------------------------------------------------- cluster
    async def topology(self, request: Request) -> dict:
        partition = {"partitionId": 1, "role": "leader", "health": "healthy", "state": "active"}
        broker = {
            "nodeId": 0, "brokerId": 0, "host": self.gateway.host, "port": self.gateway.port,
            "partitions": [partition], "version": GATEWAY_VERSION,
        }
        return {
            "brokers": [broker], "clusterId": None, "clusterSize": 1, "partitionsCount": 1, "replicationFactor": 1,
            "gatewayVersion": GATEWAY_VERSION, "lastCompletedChangeId": "-1",
        }

    async def deploy(self, request: Request) -> dict:
        resources = []
        async with request.form() as form:  # closes the uploads' spooled files
            tenant = form.get("tenantId")
            _tenant({"tenantId": tenant}, "Deploy Resources")
            for upload in form.getlist("resources"):
                if isinstance(upload, str):
                    raise Problem(400, "INVALID_ARGUMENT", "each 'resources' part must be a file with a name")
                resources.append((upload.filename, await upload.read()))
        if not resources:
            raise Problem(400, "INVALID_ARGUMENT", "a deployment needs at least one resource ('resources' parts)")
        deployment = await self._call(self.engine.deploy, resources)
        self.gateway._remember(deployment)
        # every item names each kind, null but the one it is (the API's schema)
        empty = {"processDefinition": None, "decisionDefinition": None, "decisionRequirements": None, "form": None, "resource": None}
        items = [
            {**empty, "processDefinition": {
                "processDefinitionId": p.bpmn_process_id, "processDefinitionVersion": p.version,
                "resourceName": p.resource_name, "tenantId": DEFAULT_TENANT,
                "processDefinitionKey": str(p.process_definition_key),
            }}
            for p in deployment.processes
        ] + [
            {**empty, "form": {
                "formId": f.form_id, "version": f.version, "resourceName": f.resource_name,
                "tenantId": DEFAULT_TENANT, "formKey": str(f.form_key),
            }}
            for f in deployment.forms
        ]
        return {"deploymentKey": str(deployment.key), "tenantId": DEFAULT_TENANT, "deployments": items}

    # ------------------------------------------------------------------ instances
    def _instance_view(self, instance: ProcessInstance) -> dict:
        return {
            "processDefinitionId": instance.bpmn_process_id, "processDefinitionName": None,
            "processDefinitionVersion": instance.version, "processDefinitionVersionTag": None,
            "startDate": _iso(instance.started_at), "endDate": _iso(instance.ended_at),
            "state": "TERMINATED" if instance.state == "CANCELED" else instance.state,
            "suspendedDate": None,
            "hasIncident": any(i.state == "ACTIVE" for i in instance.incidents), "tenantId": DEFAULT_TENANT,
            "processInstanceKey": str(instance.process_instance_key),
            "processDefinitionKey": str(instance.process_definition_key), "parentProcessInstanceKey": None,
            "parentElementInstanceKey": None, "rootProcessInstanceKey": str(instance.process_instance_key),
            "tags": [], "businessId": None,
        }

    async def create_instance(self, request: Request) -> dict:
        body = await self._body(request)
        _tenant(body, "Create Process Instance")
        if body.get("awaitCompletion"):
            raise Problem(400, "INVALID_ARGUMENT", "awaitCompletion is not supported by the facade; poll the instance")
        if body.get("startInstructions"):
            raise Problem(400, "INVALID_ARGUMENT", "start instructions are not supported by the embedded engine")
        if body.get("processDefinitionKey"):
            key = _key(body["processDefinitionKey"], "process definition")
            definition = self.engine.core.definitions.get(key)
            if definition is None:
                raise NotFound(f"no process definition with key {key}")
            process_id, version = definition.bpmn_process_id, definition.version
        elif body.get("processDefinitionId"):
            process_id = body["processDefinitionId"]
            version = body.get("processDefinitionVersion")
            version = None if version in (None, -1) else int(version)
        else:
            raise Problem(400, "INVALID_ARGUMENT", "processDefinitionId or processDefinitionKey is required")
        variables = _variables_of(body)
        key = await self._call(self.engine.create_instance, process_id, variables, version=version)
        self.gateway._wake()
        instance = await self._call(self.engine.instance, key)
        return {
            "processDefinitionId": instance.bpmn_process_id, "processDefinitionVersion": instance.version,
            "tenantId": DEFAULT_TENANT, "variables": {}, "processDefinitionKey": str(instance.process_definition_key),
            "processInstanceKey": str(key), "tags": [], "businessId": None,
        }

    async def search_instances(self, request: Request) -> dict:
        body = await self._body(request)
        flt = body.get("filter") or {}
        if "processInstanceKey" in flt:
            try:
                found = [await self._call(self.engine.instance, _key(_plain(flt["processInstanceKey"]), "process instance"))]
            except NotFound:
                found = []
        else:
            state = _plain(flt.get("state"))
            engine_state = {"TERMINATED": "CANCELED"}.get(state, state)
            found = await self._call(
                self.engine.instances, state=engine_state, bpmn_process_id=_plain(flt.get("processDefinitionId"))
            )
            found = [await self._call(self.engine.instance, i.process_instance_key) for i in found]
        items = [self._instance_view(i) for i in found]
        if "state" in flt:
            items = [i for i in items if i["state"] == _plain(flt["state"])]
        if "processDefinitionId" in flt:
            items = [i for i in items if i["processDefinitionId"] == _plain(flt["processDefinitionId"])]
        return _page(items, body)

    async def get_instance(self, request: Request) -> dict:
        key = _key(request.path_params["key"], "process instance")
        return self._instance_view(await self._call(self.engine.instance, key))

    async def cancel_instance(self, request: Request) -> None:
        key = _key(request.path_params["key"], "process instance")
        try:
            await self._call(self.engine.cancel_instance, key)
        except InvalidState as exc:  # as Zeebe: an instance that is not active is not found
            raise NotFound(str(exc)) from None
        self.gateway._wake()

    # ------------------------------------------------------------------- messages
    async def publish(self, request: Request) -> dict:
        body = await self._body(request)
        _tenant(body, "Publish Message")
        if not body.get("name"):
            raise Problem(400, "INVALID_ARGUMENT", "a message needs a name")
        ttl = int(body.get("timeToLive") or 0)
        result = await self._call(
            self.engine.publish_message, body["name"], str(body.get("correlationKey") or ""), _variables_of(body),
            time_to_live=timedelta(milliseconds=max(0, ttl)), message_id=body.get("messageId") or None,
        )
        self.gateway._wake()
        return {"tenantId": DEFAULT_TENANT, "messageKey": str(result.message_key)}

    async def correlate(self, request: Request) -> dict:
        """Correlate to a waiting subscription or start event now, or 404 (no buffering)."""
        body = await self._body(request)
        _tenant(body, "Correlate Message")
        if not body.get("name"):
            raise Problem(400, "INVALID_ARGUMENT", "a message needs a name")
        result = await self._call(
            self.engine.publish_message, body["name"], str(body.get("correlationKey") or ""), _variables_of(body),
            time_to_live=timedelta(0),
        )
        if not result.correlated_instances:
            raise NotFound(
                f"Expected to find subscription for message with name '{body['name']}' and correlation key "
                f"'{body.get('correlationKey') or ''}', but none was found."
            )
        self.gateway._wake()
        return {
            "tenantId": DEFAULT_TENANT, "messageKey": str(result.message_key),
            "processInstanceKey": str(result.correlated_instances[0]),
        }

    # ----------------------------------------------------------------------- jobs
    async def activate_jobs(self, request: Request) -> dict:
        body = await self._body(request)
        job_type, timeout = body.get("type"), int(body.get("timeout") or 0)
        max_jobs = int(body.get("maxJobsToActivate") or 0)
        if not job_type or timeout < 1 or max_jobs < 1:
            raise Problem(400, "INVALID_ARGUMENT", "type, timeout (>= 1 ms) and maxJobsToActivate (>= 1) are required")
        for tenant in body.get("tenantIds") or []:
            _tenant({"tenantId": tenant}, "Activate Jobs")
        loop = asyncio.get_running_loop()
        wait_ms = int(body.get("requestTimeout") or 0)
        deadline = loop.time() + max(0, wait_ms) / 1000
        while True:
            jobs = await self._call(
                self.engine.activate_jobs, job_type, body.get("worker") or "default", max_jobs=max_jobs,
                timeout=timedelta(milliseconds=timeout), fetch_variables=body.get("fetchVariable") or None,
            )
            left = deadline - loop.time()
            if jobs or left <= 0:
                break
            await self.gateway._wait_for_change(min(left, 1.0))
        return {"jobs": [self._job_view(j) for j in jobs]}

    def _job_view(self, job) -> dict:
        self.gateway._elements[job.element_instance_key] = job.process_instance_key
        return {
            "type": job.type, "processDefinitionId": job.bpmn_process_id,
            "processDefinitionVersion": job.process_definition_version, "elementId": job.element_id,
            "customHeaders": job.custom_headers, "worker": job.worker, "retries": job.retries,
            "deadline": int(job.deadline.timestamp() * 1000), "variables": job.variables,
            "tenantId": DEFAULT_TENANT, "physicalTenantId": DEFAULT_TENANT, "jobKey": str(job.key),
            "processInstanceKey": str(job.process_instance_key), "processDefinitionKey": str(job.process_definition_key),
            "elementInstanceKey": str(job.element_instance_key), "kind": "BPMN_ELEMENT", "listenerEventType": "UNSPECIFIED",
            "userTask": None, "tags": [], "rootProcessInstanceKey": str(job.process_instance_key),
            "businessId": None, "priority": 0,
        }

    async def complete_job(self, request: Request) -> None:
        body = await self._body(request)
        await self._call(self.engine.complete_job, _key(request.path_params["key"], "job"), _variables_of(body))
        self.gateway._wake()

    async def fail_job(self, request: Request) -> None:
        body = await self._body(request)
        retries = int(body.get("retries") or 0)
        if retries < 0:
            raise Problem(400, "INVALID_ARGUMENT", "retries must not be negative")
        await self._call(
            self.engine.fail_job, _key(request.path_params["key"], "job"), retries, body.get("errorMessage") or "",
            retry_backoff=timedelta(milliseconds=max(0, int(body.get("retryBackOff") or 0))),
            variables=_variables_of(body) or None,
        )
        self.gateway._wake()

    async def throw_error(self, request: Request) -> None:
        body = await self._body(request)
        if not body.get("errorCode"):
            raise Problem(400, "INVALID_ARGUMENT", "a BPMN error needs an errorCode")
        await self._call(
            self.engine.throw_error, _key(request.path_params["key"], "job"), body["errorCode"],
            body.get("errorMessage") or "", variables=_variables_of(body) or None,
        )
        self.gateway._wake()

    # ----------------------------------------------------------------- user tasks
    async def _user_task_views(self, tasks: list[UserTask]) -> list[dict]:
        instances: dict[int, ProcessInstance] = {}
        views = []
        for task in tasks:
            if task.process_instance_key not in instances:
                instances[task.process_instance_key] = await self._call(self.engine.instance, task.process_instance_key)
            views.append(self._user_task_view(task, instances[task.process_instance_key]))
        return views

    def _user_task_view(self, task: UserTask, instance: ProcessInstance) -> dict:
        return {
            "name": task.name, "state": task.state, "assignee": task.assignee, "elementId": task.element_id,
            "candidateGroups": task.candidate_groups, "candidateUsers": task.candidate_users,
            "processDefinitionId": task.bpmn_process_id, "creationDate": _iso(task.created_at),
            "completionDate": _iso(task.completed_at), "followUpDate": _iso(task.follow_up_date),
            "dueDate": _iso(task.due_date), "tenantId": DEFAULT_TENANT, "externalFormReference": None,
            "processDefinitionVersion": instance.version, "customHeaders": {}, "priority": 50,
            "userTaskKey": str(task.user_task_key), "elementInstanceKey": str(task.user_task_key), "processName": None,
            "processDefinitionKey": str(instance.process_definition_key),
            "processInstanceKey": str(task.process_instance_key),
            "rootProcessInstanceKey": str(task.process_instance_key), "businessId": None,
            "formKey": None, "tags": [],
            # not in the API's schema: the form id, so that a client can render the linked form
            "formId": task.form_id,
        }

    async def search_user_tasks(self, request: Request) -> dict:
        body = await self._body(request)
        flt = body.get("filter") or {}
        state = _plain(flt.get("state", None))
        tasks = await self._call(
            self.engine.user_tasks, process_instance_key=(
                _key(_plain(flt["processInstanceKey"]), "process instance") if "processInstanceKey" in flt else None
            ), state=state, assignee=_plain(flt.get("assignee")), candidate_group=_plain(flt.get("candidateGroup")),
            candidate_user=_plain(flt.get("candidateUser")),
        )
        if "elementId" in flt:
            tasks = [t for t in tasks if t.element_id == _plain(flt["elementId"])]
        if "userTaskKey" in flt:
            tasks = [t for t in tasks if str(t.user_task_key) == str(_plain(flt["userTaskKey"]))]
        return _page(await self._user_task_views(tasks), body)

    async def get_user_task(self, request: Request) -> dict:
        task = await self._call(self.engine.user_task, _key(request.path_params["key"], "user task"))
        return (await self._user_task_views([task]))[0]

    async def assign(self, request: Request) -> None:
        body = await self._body(request)
        if not body.get("assignee"):
            raise Problem(400, "INVALID_ARGUMENT", "an assignee is required")
        await self._call(
            self.engine.claim, _key(request.path_params["key"], "user task"), body["assignee"],
            allow_override=body.get("allowOverride", True) is not False,
        )

    async def unassign(self, request: Request) -> None:
        await self._call(self.engine.unclaim, _key(request.path_params["key"], "user task"))

    async def complete_user_task(self, request: Request) -> None:
        body = await self._body(request)
        key = _key(request.path_params["key"], "user task")
        task = await self._call(self.engine.user_task, key)
        await self._call(self.engine.complete_user_task, key, _variables_of(body), actor=task.assignee)
        self.gateway._wake()

    # ------------------------------------------------------------------ variables
    def _variable_items(self, scope: int, instance_key: int, variables: dict, name: str | None) -> list[dict]:
        return [
            {
                "value": json.dumps(value), "isTruncated": False, "name": var, "tenantId": DEFAULT_TENANT,
                "variableKey": _variable_key(scope, var), "scopeKey": str(scope),
                "processInstanceKey": str(instance_key), "rootProcessInstanceKey": str(instance_key),
            }
            for var, value in sorted(variables.items())
            if name is None or var == name
        ]

    async def user_task_variables(self, request: Request) -> dict:
        body = await self._body(request)
        key = _key(request.path_params["key"], "user task")
        task = await self._call(self.engine.user_task, key)
        name = _plain((body.get("filter") or {}).get("name"))
        return _page(self._variable_items(key, task.process_instance_key, task.variables, name), body)

    async def search_variables(self, request: Request) -> dict:
        body = await self._body(request)
        flt = body.get("filter") or {}
        if "processInstanceKey" not in flt:
            raise Problem(400, "INVALID_ARGUMENT", "filter.processInstanceKey is required by the facade")
        instance_key = _key(_plain(flt["processInstanceKey"]), "process instance")
        try:
            instance = await self._call(self.engine.instance, instance_key)
        except NotFound:
            return _page([], body)
        return _page(self._variable_items(instance_key, instance_key, instance.variables, _plain(flt.get("name"))), body)

    async def set_variables(self, request: Request) -> None:
        body = await self._body(request)
        variables = _variables_of(body)
        key = _key(request.path_params["key"], "element instance")
        instance_key = await self._call(self.gateway._instance_of_element, key)
        if body.get("local") and instance_key != key:
            raise Problem(400, "INVALID_ARGUMENT", "local variables below the process are not supported by the embedded engine")
        await self._call(self.engine.set_variables, instance_key, variables)
        self.gateway._wake()

    # ------------------------------------------------------------------ incidents
    def _incident_view(self, incident: Incident, process_id: str, definition_key: int) -> dict:
        return {
            "processDefinitionId": process_id, "errorType": incident.error_type, "errorMessage": incident.error_message,
            "elementId": incident.element_id, "creationTime": _iso(incident.created_at),
            "state": "RESOLVED" if incident.state == "RESOLVED" else "ACTIVE", "tenantId": DEFAULT_TENANT,
            "incidentKey": str(incident.incident_key), "processDefinitionKey": str(definition_key),
            "processInstanceKey": str(incident.process_instance_key),
            "rootProcessInstanceKey": str(incident.process_instance_key),
            "elementInstanceKey": str(incident.incident_key),
            "jobKey": str(incident.job_key) if incident.job_key else None,
        }

    async def search_incidents(self, request: Request) -> dict:
        body = await self._body(request)
        flt = body.get("filter") or {}
        state = _plain(flt.get("state", None))
        instance = _key(_plain(flt["processInstanceKey"]), "process instance") if "processInstanceKey" in flt else None
        incidents = await self._call(self.engine.incidents, state=state, process_instance_key=instance)
        items = []
        for incident in incidents:
            owner = await self._call(self.engine.instance, incident.process_instance_key)
            items.append(self._incident_view(incident, owner.bpmn_process_id, owner.process_definition_key))
        if "errorType" in flt:
            items = [i for i in items if i["errorType"] == _plain(flt["errorType"])]
        return _page(items, body)

    async def resolve_incident(self, request: Request) -> None:
        await self._call(self.gateway._resolve_incident, _key(request.path_params["key"], "incident"))
        self.gateway._wake()


def rest_app(gateway: GatewayFacade, *, clock_controlled: bool = False) -> Starlette:
    return RestApi(gateway, clock_controlled=clock_controlled).app()


__all__ = ["RestApi", "rest_app", "EngineError"]
