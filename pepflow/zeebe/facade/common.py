"""What the facade's gRPC gateway and REST API share: engine errors as status
codes, request variables, tenants, and the signal that wakes long polls."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime
from typing import Any

import grpc

from pepflow.engine.errors import (
    DeploymentError,
    ExpressionError,
    InvalidState,
    InvalidVariables,
    NotFound,
)

GATEWAY_SERVICE = "gateway_protocol.Gateway"
#: the protocol level of the stubs pyzeebe 4.7 ships, reported by Topology
GATEWAY_VERSION = "8.6.0"
#: Zeebe's default long-polling time when a request leaves requestTimeout at 0
DEFAULT_LONG_POLL_MS = 10_000
#: how long CreateProcessInstanceWithResult waits when the request gives no timeout
DEFAULT_WITH_RESULT_MS = 30_000
DEFAULT_TENANT = "<default>"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # deployments and variables (Zeebe's default is 4 MiB)


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _status_for(exc: Exception) -> grpc.StatusCode:
    if isinstance(exc, NotFound):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(exc, InvalidState):
        return grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(exc, (DeploymentError, InvalidVariables, ExpressionError)):
        return grpc.StatusCode.INVALID_ARGUMENT
    return grpc.StatusCode.INTERNAL


def _variables(text: str, what: str = "variables") -> dict[str, Any]:
    """A request's JSON document of variables: empty means none; anything but an
    object is refused, as Zeebe does."""
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"{what} are not valid JSON: {exc}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"{what} must be a JSON object, not {type(value).__name__}")
    return value


def _tenant(tenant_id: str, rpc: str) -> None:
    """Multi-tenancy is off, as on a cluster that did not enable it: the default tenant
    only, refused in the gateway's words otherwise."""
    if tenant_id and tenant_id != DEFAULT_TENANT:
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Expected to handle gRPC request {rpc} with tenant identifier '{tenant_id}', but multi-tenancy is disabled",
        )


def _tenants(tenant_ids, rpc: str) -> None:
    others = [t for t in tenant_ids if t and t != DEFAULT_TENANT]
    if others:
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Expected to handle gRPC request {rpc} with tenant identifiers '[{', '.join(tenant_ids)}]', but "
            "multi-tenancy is disabled",
        )


def _millis(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


class _Signal:
    """Wakes coroutines of the server's loop when the engine committed something
    (called from whatever thread ran the engine operation)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def notify_threadsafe(self, _kind: str = "") -> None:
        try:
            self._loop.call_soon_threadsafe(self._notify)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    def _notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, timeout: float) -> None:
        event = self._event
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=max(0.0, timeout))


