"""The REST API's process instances, messages and variables (``/v2/process-instances``,
``/v2/messages``, ``/v2/variables``, ``/v2/element-instances/{key}/variables``)."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request

from pepflow.engine.errors import InvalidState, NotFound
from pepflow.engine.views import ProcessInstance

from .common import DEFAULT_TENANT
from .rest_common import Problem, Resource, _iso, _key, _page, _plain, _tenant, _variables_of, variable_items


class InstanceRoutes(Resource):
    def routes(self, route) -> list:
        return [
            route("/v2/process-instances", self.create_instance, "POST"),
            route("/v2/process-instances/search", self.search_instances, "POST"),
            route("/v2/process-instances/{key}", self.get_instance, "GET"),
            route("/v2/process-instances/{key}/cancellation", self.cancel_instance, "POST"),
            route("/v2/messages/publication", self.publish, "POST"),
            route("/v2/messages/correlation", self.correlate, "POST"),
            route("/v2/variables/search", self.search_variables, "POST"),
            route("/v2/element-instances/{key}/variables", self.set_variables, "PUT"),
        ]

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
        return _page(variable_items(instance_key, instance_key, instance.variables, _plain(flt.get("name"))), body)

    async def set_variables(self, request: Request) -> None:
        body = await self._body(request)
        variables = _variables_of(body)
        key = _key(request.path_params["key"], "element instance")
        instance_key = await self._call(self.gateway._instance_of_element, key)
        if body.get("local") and instance_key != key:
            raise Problem(400, "INVALID_ARGUMENT", "local variables below the process are not supported by the embedded engine")
        await self._call(self.engine.set_variables, instance_key, variables)
        self.gateway._wake()
