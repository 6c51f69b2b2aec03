"""The REST API's jobs and incidents (``/v2/jobs``, ``/v2/incidents``): long-polled
activation, completion, failure, BPMN errors; incident search and resolution."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from starlette.requests import Request

from pepflow.engine.views import Incident

from .common import DEFAULT_TENANT
from .rest_common import Problem, Resource, _iso, _key, _page, _plain, _tenant, _variables_of


class JobRoutes(Resource):
    def routes(self, route) -> list:
        return [
            route("/v2/jobs/activation", self.activate_jobs, "POST"),
            route("/v2/jobs/{key}/completion", self.complete_job, "POST"),
            route("/v2/jobs/{key}/failure", self.fail_job, "POST"),
            route("/v2/jobs/{key}/error", self.throw_error, "POST"),
            route("/v2/incidents/search", self.search_incidents, "POST"),
            route("/v2/incidents/{key}/resolution", self.resolve_incident, "POST"),
        ]

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
