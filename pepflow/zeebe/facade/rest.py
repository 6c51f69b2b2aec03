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
:mod:`.rest_operator`. One module per resource holds the handlers: :mod:`.rest_instances`
(instances, messages, variables), :mod:`.rest_jobs` (jobs, incidents),
:mod:`.rest_user_tasks`; :mod:`.rest_common` what they share.

Keys are strings, as in the API. Errors are RFC 9457 problem documents with the
status Camunda uses: 400 invalid argument, 404 not found, 409 invalid state or a
duplicate (``pepflow.engine.strict.REST_ERRORS``). No authentication: loopback only.
Variable keys are derived from the scope and the name (the engine keeps no
variable records); they are stable for a variable's lifetime.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pepflow.engine.errors import EngineError

from .common import DEFAULT_TENANT, GATEWAY_VERSION
from .gateway import GatewayFacade
from .rest_common import MAX_PAGE, Problem, _problem_for, _tenant, read_body
from .rest_instances import InstanceRoutes
from .rest_jobs import JobRoutes
from .rest_operator import OperatorRoutes
from .rest_user_tasks import UserTaskRoutes

log = logging.getLogger(__name__)


class RestApi:
    """Handlers of ``/v2`` over the gateway's engine (sharing its wake-up signal), one
    object per resource."""

    def __init__(self, gateway: GatewayFacade, *, clock_controlled: bool = False) -> None:
        self.gateway = gateway
        self.engine = gateway.engine
        self.clock_controlled = clock_controlled
        self.instances = InstanceRoutes(self)
        self.jobs = JobRoutes(self)
        self.user_tasks = UserTaskRoutes(self)

    # ------------------------------------------------------------------ plumbing
    async def _body(self, request: Request) -> dict:
        return await read_body(request)

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
            *self.instances.routes(route),
            *self.jobs.routes(route),
            *self.user_tasks.routes(route),
            *OperatorRoutes(self, clock_controlled=self.clock_controlled).routes(route),
        ]
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


def rest_app(gateway: GatewayFacade, *, clock_controlled: bool = False) -> Starlette:
    return RestApi(gateway, clock_controlled=clock_controlled).app()


__all__ = ["MAX_PAGE", "Problem", "RestApi", "rest_app", "EngineError"]
