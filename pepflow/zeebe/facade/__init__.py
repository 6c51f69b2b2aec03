"""A Zeebe gateway over the embedded engine: the proof of the Camunda 8 mode without a broker.

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

from .common import DEFAULT_TENANT, GATEWAY_VERSION
from .gateway import GatewayFacade
from .server import FacadeServer, serve_facade

__all__ = ["DEFAULT_TENANT", "GATEWAY_VERSION", "FacadeServer", "GatewayFacade", "serve_facade"]
