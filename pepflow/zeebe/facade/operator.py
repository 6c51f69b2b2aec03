"""The operator's commands of the gateway facade: what Zeebe answers, over gRPC and REST.

Done as Zeebe does them (the engine's :mod:`pepflow.engine.operations`):

- **UpdateJobTimeout** (``PATCH /v2/jobs/{key}`` with ``changeset.timeout``): an activated
  job's deadline becomes now + timeout; NOT_FOUND for no such job, FAILED_PRECONDITION
  (REST 409 INVALID_STATE) for a job that is not activated.
- **DeleteResource** (``POST /v2/resources/{key}/deletion``): a process definition or a
  form; running instances run on ("draining"), the previous version becomes the latest,
  versions are never reused.
- **BroadcastSignal** (``POST /v2/signals/broadcast``): accepted with a key, as Zeebe
  accepts a signal nothing subscribes to. The embedded engine refuses signal events at
  deployment, so no instance here can ever be waiting for one.

Answered as Zeebe answers for what does not exist, because here it cannot:

- **EvaluateDecision** (``POST /v2/decision-definitions/evaluation``): the facade
  deploys no DMN (a ``.dmn`` resource is refused at deployment, INVALID_ARGUMENT), so
  every decision is one Zeebe would not find: NOT_FOUND "Expected to evaluate decision
  'D', but no decision found for id 'D'" (or "for key 'K'").
- **ModifyProcessInstance** (``POST /v2/process-instances/{key}/modification``): an
  unknown instance is NOT_FOUND; an activate instruction naming no element of the
  process is INVALID_ARGUMENT as in Zeebe; any other instruction is INVALID_ARGUMENT in
  Zeebe's words for an unsupported modification - the embedded engine cannot move the
  tokens of a SpiffWorkflow task tree safely. A modification with no instruction is
  accepted and changes nothing, as in Zeebe.
- **MigrateProcessInstance** (``POST /v2/process-instances/{key}/migration``): unknown
  instance or target definition NOT_FOUND as in Zeebe; otherwise FAILED_PRECONDITION
  (REST 409 INVALID_STATE), Zeebe's rejection type for a migration it does not support.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
from pyzeebe.proto import gateway_pb2 as pb

from pepflow.engine.errors import InvalidState, InvalidVariables, NotFound
from pepflow.engine.operations import new_key

from .common import DEFAULT_TENANT, _Abort, _tenant, _variables

_MAX_KEY = (1 << 63) - 1


# --------------------------------------------------------------- shared rules
def evaluate_decision(decision_id: str, decision_key: int) -> None:
    """Always a rejection: no decision is ever deployed on the facade."""
    if decision_id:
        raise NotFound(f"Expected to evaluate decision '{decision_id}', but no decision found for id '{decision_id}'")
    if decision_key > 0:
        raise NotFound(f"Expected to evaluate decision '{decision_key}', but no decision found for key '{decision_key}'")
    raise InvalidVariables("Expected either a decision id or a valid decision key, but none provided")


def _element_ids(engine, instance) -> set[str]:
    parsed = engine.core.definitions[instance.process_definition_key].parsed
    specs = [parsed.spec, *parsed.subprocess_specs.values()]
    return {getattr(s, "bpmn_id", None) for spec in specs for s in spec.task_specs.values()} - {None}


def modify_instance(engine, key: int, activate: list[str], terminate: list[int]) -> None:
    if not 0 < key <= _MAX_KEY:
        raise NotFound(f"Expected to modify process instance but no process instance found with key '{key}'")
    try:
        instance = engine.instance(key)
    except NotFound:
        raise NotFound(f"Expected to modify process instance but no process instance found with key '{key}'") from None
    if instance.state != "ACTIVE":
        raise NotFound(f"Expected to modify process instance but no process instance found with key '{key}'")
    process = instance.bpmn_process_id
    if activate:
        unknown = [e for e in activate if e not in _element_ids(engine, instance)]
        if unknown:
            raise InvalidVariables(
                f"Expected to modify instance of process '{process}' but it contains one or more activate instructions"
                f" with an element that could not be found: '{', '.join(unknown)}'"
            )
        raise InvalidVariables(
            f"Expected to modify instance of process '{process}' but it contains one or more activate instructions"
            f" for elements that are unsupported: '{', '.join(activate)}'. The embedded engine (the gateway facade)"
            " does not activate elements of a running instance; use Camunda 8 for process instance modification."
        )
    if terminate:
        raise InvalidVariables(
            f"Expected to modify instance of process '{process}' but it contains one or more terminate instructions"
            f" for element instances that are unsupported: '{', '.join(str(k) for k in terminate)}'. The embedded"
            " engine (the gateway facade) does not terminate elements of a running instance; cancel the instance"
            " or use Camunda 8 for process instance modification."
        )


def migrate_instance(engine, key: int, target_definition_key: int) -> None:
    if not 0 < key <= _MAX_KEY:
        raise NotFound(f"Expected to migrate process instance but no process instance found with key '{key}'")
    try:
        instance = engine.instance(key)
    except NotFound:
        raise NotFound(f"Expected to migrate process instance but no process instance found with key '{key}'") from None
    if instance.state != "ACTIVE":
        raise NotFound(f"Expected to migrate process instance but no process instance found with key '{key}'")
    try:
        engine.definition(target_definition_key)
    except NotFound:
        raise NotFound(
            "Expected to migrate process instance to process definition but no process definition found with key"
            f" '{target_definition_key}'"
        ) from None
    raise InvalidState(
        f"Expected to migrate process instance '{key}' but the embedded engine (the gateway facade) does not migrate"
        " running instances; let them finish on their version, or use Camunda 8 for process instance migration."
    )


def broadcast_signal(engine, name: str, variables: dict[str, Any]) -> int:
    if not name:
        raise InvalidVariables("Expected to broadcast a signal with a name, but the name is empty")
    return new_key(engine.core)


def update_job_timeout(engine, job_key: int, timeout_ms: int) -> None:
    if not 0 < job_key <= _MAX_KEY:
        raise NotFound(f"Expected to update job with key '{job_key}', but no such job was found")
    engine.update_job_timeout(job_key, timedelta(milliseconds=timeout_ms))


def delete_resource(engine, key: int) -> str:
    if not 0 < key <= _MAX_KEY:
        raise NotFound(f"Expected to delete resource but no resource found with key `{key}`")
    return engine.delete_resource(key)


# ----------------------------------------------------------------------- gRPC
class OperatorRpcs:
    """Mixed into :class:`~.gateway.GatewayFacade` (which provides ``engine``,
    ``_call`` and ``_wake``); each method is wrapped by the gateway's ``_unary``."""

    async def EvaluateDecision(self, request, context):
        _tenant(request.tenantId, "EvaluateDecision")
        _variables(request.variables)
        evaluate_decision(request.decisionId, request.decisionKey)

    async def ModifyProcessInstance(self, request, context):
        for instruction in request.activateInstructions:
            for variable in instruction.variableInstructions:
                _variables(variable.variables)
        await self._call(
            modify_instance, self.engine, request.processInstanceKey,
            [i.elementId for i in request.activateInstructions],
            [i.elementInstanceKey for i in request.terminateInstructions],
        )
        return pb.ModifyProcessInstanceResponse()

    async def MigrateProcessInstance(self, request, context):
        if not request.HasField("migrationPlan"):
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "a migration needs a migration plan")
        await self._call(migrate_instance, self.engine, request.processInstanceKey, request.migrationPlan.targetProcessDefinitionKey)

    async def UpdateJobTimeout(self, request, context):
        await self._call(update_job_timeout, self.engine, request.jobKey, request.timeout)
        self._wake()
        return pb.UpdateJobTimeoutResponse()

    async def DeleteResource(self, request, context):
        await self._call(delete_resource, self.engine, request.resourceKey)
        return pb.DeleteResourceResponse()

    async def BroadcastSignal(self, request, context):
        _tenant(request.tenantId, "BroadcastSignal")
        key = await self._call(broadcast_signal, self.engine, request.signalName, _variables(request.variables))
        return pb.BroadcastSignalResponse(key=key, tenantId=DEFAULT_TENANT)
