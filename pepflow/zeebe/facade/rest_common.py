"""What the REST API's resources share: problem documents, key and filter parsing,
paging, the tenant check, variable items, and :class:`Resource`, the base of each
resource's handlers (the engine, the gateway and its worker thread).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from pepflow.engine.errors import DeploymentError, ExpressionError, InvalidState, InvalidVariables, NotFound

from .common import DEFAULT_TENANT, _Abort

if TYPE_CHECKING:  # pragma: no cover
    from .rest import RestApi

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


async def read_body(request: Request) -> dict:
    """The request's JSON object ({} when empty); a problem otherwise."""
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


def variable_items(scope: int, instance_key: int, variables: dict, name: str | None) -> list[dict]:
    return [
        {
            "value": json.dumps(value), "isTruncated": False, "name": var, "tenantId": DEFAULT_TENANT,
            "variableKey": _variable_key(scope, var), "scopeKey": str(scope),
            "processInstanceKey": str(instance_key), "rootProcessInstanceKey": str(instance_key),
        }
        for var, value in sorted(variables.items())
        if name is None or var == name
    ]


class Resource:
    """Handlers of one resource over the API's engine and gateway."""

    def __init__(self, api: RestApi) -> None:
        self.api = api
        self.engine = api.engine
        self.gateway = api.gateway

    async def _body(self, request: Request) -> dict:
        return await read_body(request)

    async def _call(self, fn, *args, **kwargs):
        return await self.gateway._call(fn, *args, **kwargs)
