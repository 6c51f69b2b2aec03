"""The operator's endpoints of the facade's REST API v2 (the rules are in :mod:`.operator`),
the element-instance search a test driver or an Operate-like view needs, and - when the
facade was started with a controllable clock - Camunda's clock endpoints.

=========================================  ==============================================
``PATCH /v2/jobs/{key}``                   ``changeset``: ``retries`` and/or ``timeout``
``POST /v2/resources/{key}/deletion``      a process definition or a form
``POST /v2/signals/broadcast``             accepted with a key (no subscription can exist)
``POST /v2/decision-definitions/evaluation``  404: the facade deploys no decision
``POST /v2/process-instances/{key}/modification``  see :mod:`.operator`
``POST /v2/process-instances/{key}/migration``     see :mod:`.operator`
``POST /v2/element-instances/search``      filter: processInstanceKey, elementId, state, type
``PUT  /v2/clock``  ``POST /v2/clock/reset``  pin the engine's clock (``timestamp`` in ms)
=========================================  ==============================================

The clock endpoints are Camunda's for process tests (the broker started with
``ZEEBE_CLOCK_CONTROLLED=true``): pinning moves the engine's clock, and timers that
fell due fire. The facade offers them only over a :class:`~pepflow.clock.SimulationClock`
(``FacadeServer(..., clock_controlled=True)``); otherwise they answer 403 as a cluster
without clock control does not have them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from starlette.requests import Request

from pepflow.clock import SimulationClock
from pepflow.engine.errors import NotFound

from . import operator
from .common import DEFAULT_TENANT
from .rest_common import Problem, _iso, _key, _page, _plain, _tenant, _variables_of


class OperatorRoutes:
    def __init__(self, api, *, clock_controlled: bool = False) -> None:
        self.api = api
        self.engine = api.engine
        self.gateway = api.gateway
        self.clock_controlled = clock_controlled

    def routes(self, route) -> list:
        return [
            route("/v2/jobs/{key}", self.update_job, "PATCH"),
            route("/v2/resources/{key}/deletion", self.delete_resource, "POST"),
            route("/v2/signals/broadcast", self.broadcast_signal, "POST"),
            route("/v2/decision-definitions/evaluation", self.evaluate_decision, "POST"),
            route("/v2/process-instances/{key}/modification", self.modify, "POST"),
            route("/v2/process-instances/{key}/migration", self.migrate, "POST"),
            route("/v2/element-instances/search", self.search_element_instances, "POST"),
            route("/v2/clock", self.pin_clock, "PUT"),
            route("/v2/clock/reset", self.reset_clock, "POST"),
        ]

    async def _body(self, request: Request) -> dict:
        return await self.api._body(request)

    # ---------------------------------------------------------------- commands
    async def update_job(self, request: Request) -> None:
        body = await self._body(request)
        key = _key(request.path_params["key"], "job")
        changes = body.get("changeset") or {}
        retries, timeout = changes.get("retries"), changes.get("timeout")
        if retries is None and timeout is None:
            raise Problem(400, "INVALID_ARGUMENT", "At least one field between retries or timeout is required")
        if retries is not None:
            if int(retries) < 1:
                raise Problem(400, "INVALID_ARGUMENT", "retries must be at least 1")
            await self.api._call(self.engine.update_job_retries, key, int(retries))
        if timeout is not None:
            await self.api._call(operator.update_job_timeout, self.engine, key, int(timeout))
        self.gateway._wake()

    async def delete_resource(self, request: Request) -> dict:
        key = _key(request.path_params["key"], "resource")
        await self.api._call(operator.delete_resource, self.engine, key)
        return {"resourceKey": str(key), "batchOperation": None}

    async def broadcast_signal(self, request: Request) -> dict:
        body = await self._body(request)
        _tenant(body, "Broadcast Signal")
        key = await self.api._call(operator.broadcast_signal, self.engine, body.get("signalName") or "", _variables_of(body))
        return {"tenantId": DEFAULT_TENANT, "signalKey": str(key)}

    async def evaluate_decision(self, request: Request) -> None:
        body = await self._body(request)
        _tenant(body, "Evaluate Decision")
        _variables_of(body)
        key = body.get("decisionDefinitionKey")
        operator.evaluate_decision(body.get("decisionDefinitionId") or "", int(key) if key else 0)

    async def modify(self, request: Request) -> None:
        body = await self._body(request)
        key = _key(request.path_params["key"], "process instance")
        activate = [i.get("elementId") or "" for i in body.get("activateInstructions") or []]
        terminate = [int(i.get("elementInstanceKey") or 0) for i in body.get("terminateInstructions") or []]
        await self.api._call(operator.modify_instance, self.engine, key, activate, terminate)

    async def migrate(self, request: Request) -> None:
        body = await self._body(request)
        key = _key(request.path_params["key"], "process instance")
        plan = body.get("migrationPlan") or {}
        if "targetProcessDefinitionKey" not in plan:
            raise Problem(400, "INVALID_ARGUMENT", "No migrationPlan.targetProcessDefinitionKey provided.")
        await self.api._call(operator.migrate_instance, self.engine, key, int(plan["targetProcessDefinitionKey"]))

    # ------------------------------------------------------------------ search
    async def search_element_instances(self, request: Request) -> dict:
        """Element instances of one process instance, from its history: ACTIVE for an
        element activated and not yet left, COMPLETED/TERMINATED after."""
        body = await self._body(request)
        flt = body.get("filter") or {}
        if "processInstanceKey" not in flt:
            raise Problem(400, "INVALID_ARGUMENT", "filter.processInstanceKey is required by the facade")
        instance_key = _key(_plain(flt["processInstanceKey"]), "process instance")
        items = await self.api._call(self._element_instances, instance_key)
        for field in ("elementId", "state", "type"):
            if field in flt:
                items = [i for i in items if i[field] == _plain(flt[field])]
        return _page(items, body)

    def _element_instances(self, instance_key: int) -> list[dict]:
        try:
            instance = self.engine.instance(instance_key)
        except NotFound:
            return []
        parsed = self.engine.core.definitions[instance.process_definition_key].parsed
        names = {
            getattr(spec, "bpmn_id", None): getattr(spec, "bpmn_name", None)
            for process in (parsed.spec, *parsed.subprocess_specs.values()) for spec in process.task_specs.values()
        }
        open_: dict[str, list[dict]] = {}
        items: list[dict] = []
        for n, entry in enumerate(self.engine.history(instance_key)):
            if entry.event == "ACTIVATED":
                item = {
                    "processDefinitionId": instance.bpmn_process_id, "startDate": _iso(entry.at), "endDate": None,
                    "elementId": entry.element_id, "elementName": names.get(entry.element_id) or entry.element_id, "type": _element_type(entry.element_type),
                    "state": "ACTIVE", "hasIncident": False, "tenantId": DEFAULT_TENANT,
                    "elementInstanceKey": str((instance_key << 16) + n), "processInstanceKey": str(instance_key),
                    "rootProcessInstanceKey": str(instance_key),
                    "processDefinitionKey": str(instance.process_definition_key), "incidentKey": None,
                }
                items.append(item)
                open_.setdefault(entry.element_id, []).append(item)
            elif open_.get(entry.element_id):
                item = open_[entry.element_id].pop(0)
                item["state"] = "TERMINATED" if entry.event == "TERMINATED" else "COMPLETED"
                item["endDate"] = _iso(entry.at)
        active = set(instance.active_elements)
        for element_id, still_open in open_.items():
            if element_id not in active:  # the history missed its end: not waiting any more
                for item in still_open:
                    item["state"] = "COMPLETED"
        for incident in instance.incidents:
            if incident.state == "ACTIVE":
                for item in open_.get(incident.element_id, []):
                    item["hasIncident"], item["incidentKey"] = True, str(incident.incident_key)
        return items

    # ------------------------------------------------------------------- clock
    def _clock(self) -> SimulationClock:
        clock = self.engine.clock
        if not self.clock_controlled or not isinstance(clock, SimulationClock):
            raise Problem(403, "FORBIDDEN", "the clock is not controlled (start the facade with clock_controlled=True)")
        return clock

    async def pin_clock(self, request: Request) -> None:
        body = await self._body(request)
        clock = self._clock()
        stamp = body.get("timestamp")
        if not isinstance(stamp, int) or stamp < 0:
            raise Problem(400, "INVALID_ARGUMENT", "timestamp must be a non-negative number of milliseconds since the epoch")
        target = datetime.fromtimestamp(stamp / 1000, tz=timezone.utc)
        await self.api._call(self._move_clock, clock, target)

    async def reset_clock(self, request: Request) -> None:
        raise Problem(400, "INVALID_ARGUMENT", "the facade's clock is a simulation: pin it to a time instead")

    def _move_clock(self, clock: SimulationClock, target: datetime) -> None:
        if target < clock.now():
            raise Problem(400, "INVALID_ARGUMENT", f"the clock cannot go back (it is {clock.now().isoformat()})")
        clock.advance(target - clock.now())  # the engine fires what fell due, in order
        self.engine.fire_due_timers()
        self.gateway._wake()


def _element_type(kind: str) -> str:
    """The engine's element types in the API's words (``SERVICE_TASK``, ``USER_TASK`` ...)."""
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind).upper().replace("BPMN_", "")
