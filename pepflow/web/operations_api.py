"""The operations API (operators): instances, their diagram, history and variables
(identifiers only), incidents in words, retry one or all, cancel with a reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import Field

from . import incident_words
from .api import COMMON_RESPONSES, Model, backend, engine_call
from .operations_view import DiagramIndex, history_tree, visit_counts
from .security import Principal, allow, check_csrf
from .service import WebBackend, operator_view

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_csrf)], responses=COMMON_RESPONSES)


class Retry(Model):
    retries: int = Field(default=1, ge=1, le=10)


class BulkRetry(Model):
    #: the incidents to retry; empty: every open incident
    incident_keys: list[int] = Field(default_factory=list, max_length=1000)
    retries: int = Field(default=1, ge=1, le=10)


class BulkRetryOut(Model):
    resolved: list[int]
    failed: list[dict[str, Any]]


class Cancellation(Model):
    #: why the instance is cancelled, recorded in the audit log (no child's details)
    reason: str = Field(min_length=10, max_length=500)


class BulkCancellation(Cancellation):
    process_instance_keys: list[int] = Field(min_length=1, max_length=500)


class InstanceOut(Model):
    process_instance_key: int
    bpmn_process_id: str
    version: int
    process_definition_key: int
    state: str
    active_elements: list[str]
    active_element_names: list[str]
    start_date: datetime
    end_date: datetime | None
    incident_count: int = 0
    child_id: str | None = None
    pep_id: str | None = None


class InstancePage(Model):
    total: int
    page: int
    page_size: int
    items: list[InstanceOut]


def instance_out(web: WebBackend, inst, incidents: int) -> InstanceOut:
    names = web.element_names(inst.process_definition_key)
    variables = getattr(inst, "variables", None) or {}
    return InstanceOut(
        process_instance_key=inst.process_instance_key, bpmn_process_id=inst.bpmn_process_id, version=inst.version,
        process_definition_key=inst.process_definition_key, state=inst.state, active_elements=inst.active_elements,
        active_element_names=[names.get(e, e) for e in inst.active_elements], start_date=inst.started_at,
        end_date=inst.ended_at, incident_count=incidents,
        child_id=variables.get("childId") if isinstance(variables.get("childId"), str) else None,
        pep_id=variables.get("pepId") if isinstance(variables.get("pepId"), str) else None,
    )


def incident_out(i, variables: dict | None = None) -> dict[str, Any]:
    words = incident_words.explain(i, variables)
    return {"incidentKey": i.incident_key, "processInstanceKey": i.process_instance_key, "elementId": i.element_id,
            "errorType": i.error_type, "errorMessage": i.error_message, "jobKey": i.job_key, "state": i.state,
            "creationTime": i.created_at.isoformat(), "explanation": words.headline, "whatToDo": words.todo,
            "records": [{"reference": f.label, "href": f.href, "who": f.who} for f in words.fixes]}


@router.get("/process-instances", response_model=InstancePage, response_model_by_alias=True, tags=["operations"])
def search_process_instances(
    request: Request,
    state: Literal["ACTIVE", "COMPLETED", "CANCELED"] | None = None,
    element_id: str | None = Query(default=None, alias="elementId", max_length=200),
    page: int = Query(default=1, ge=1, le=100_000),
    page_size: int = Query(default=50, ge=1, le=200, alias="pageSize"),
    principal: Principal = allow("operations:read"),
) -> InstancePage:
    web = backend(request)
    total, rows, incidents = web.instance_rows(state=state, element_id=element_id, page=page, page_size=page_size)
    return InstancePage(total=total, page=page, page_size=page_size,
                        items=[instance_out(web, i, incidents.get(i.process_instance_key, 0)) for i in rows])


def _form_fields(web: WebBackend, form_id: str) -> tuple[str, ...]:
    try:
        return tuple(f.key for f in web.engine.form(form_id).fields)
    except Exception:  # noqa: BLE001 - a form no longer deployed: the mappings still count
        return ()


def instance_details(web: WebBackend, process_instance_key: int) -> dict[str, Any]:
    inst = engine_call(web.engine.instance, process_instance_key)
    history = web.engine.history(process_instance_key)
    diagram = DiagramIndex(web.engine.definition_xml(inst.process_definition_key))
    completed = sorted({h.element_id for h in history if h.event == "COMPLETED"} - set(inst.active_elements))
    out = instance_out(web, inst, len(inst.incidents)).model_dump(mode="json", by_alias=True)
    out.update(
        variables=operator_view(inst.variables, inst.bpmn_process_id),
        completedElements=completed,
        incidentElements=sorted({i.element_id for i in inst.incidents}),
        visits=visit_counts(history),
        elementVariables={e: diagram.variables_used(e, inst.variables, lambda f: _form_fields(web, f)) for e in diagram.names},
        elementNames={e: diagram.name(e) for e in {h.element_id for h in history} | set(inst.active_elements)},
        history=[{"elementId": h.element_id, "elementName": diagram.name(h.element_id), "elementType": h.element_type,
                  "event": h.event, "at": h.at.isoformat()} for h in history],
        incidents=[incident_out(i, inst.variables) for i in inst.incidents],
        cancellations=[{"at": a.at.isoformat(), "by": a.actor_id, "reason": a.diff.get("reason")}
                       for a in web.store.audit_entries("process-instance", str(process_instance_key)) if a.action == "cancel"],
    )
    out["_tree"] = history_tree(history, diagram)
    return out


@router.get("/process-instances/{process_instance_key}", tags=["operations"])
def get_process_instance(request: Request, process_instance_key: int, principal: Principal = allow("operations:read")) -> dict[str, Any]:
    """One instance: variables (identifiers only), history with element names, visit
    counts, incidents in words, and the element ids to mark on the diagram."""
    out = instance_details(backend(request), process_instance_key)
    out.pop("_tree")
    return out


@router.get("/process-instances/{process_instance_key}/xml", tags=["operations"], response_class=PlainTextResponse)
def get_process_instance_xml(request: Request, process_instance_key: int, principal: Principal = allow("operations:read")) -> PlainTextResponse:
    web = backend(request)
    inst = engine_call(web.engine.instance, process_instance_key)
    return PlainTextResponse(web.engine.definition_xml(inst.process_definition_key), media_type="application/xml")


def _cancel(web: WebBackend, principal: Principal, key: int, reason: str) -> None:
    engine_call(web.engine.cancel_instance, key)
    web.audit(principal.staff_id, "process-instance", str(key), "cancel", {"reason": reason})


@router.post("/process-instances/{process_instance_key}/cancellation", status_code=204, tags=["operations"])
async def cancel_process_instance(request: Request, process_instance_key: int, body: Cancellation,
                                  principal: Principal = allow("operations:write")) -> Response:
    """Cancel an instance; the reason (10-500 characters) is kept in the audit log and
    shown on the instance page."""
    _cancel(backend(request), principal, process_instance_key, body.reason.strip())
    return Response(status_code=204)


@router.post("/process-instances/cancellation", tags=["operations"])
async def cancel_process_instances(request: Request, body: BulkCancellation,
                                   principal: Principal = allow("operations:write")) -> dict[str, Any]:
    """Cancel several instances with one reason; each one that cannot be cancelled is
    listed with why, the others are cancelled."""
    web = backend(request)
    done, failed = [], []
    for key in dict.fromkeys(body.process_instance_keys):
        try:
            _cancel(web, principal, key, body.reason.strip())
            done.append(key)
        except HTTPException as exc:
            failed.append({"processInstanceKey": key, "detail": exc.detail})
    return {"cancelled": done, "failed": failed}


@router.get("/incidents", tags=["operations"])
def search_incidents(request: Request, principal: Principal = allow("operations:read")) -> list[dict[str, Any]]:
    web = backend(request)
    variables: dict[int, dict] = {}
    out = []
    for i in web.engine.incidents():
        if i.process_instance_key not in variables:
            try:
                variables[i.process_instance_key] = web.engine.instance(i.process_instance_key).variables
            except Exception:  # noqa: BLE001 - the explanation does without the record link
                variables[i.process_instance_key] = {}
        out.append(incident_out(i, variables[i.process_instance_key]))
    return out


@router.post("/incidents/{incident_key}/resolution", status_code=204, tags=["operations"])
async def resolve_incident(request: Request, incident_key: int, body: Retry | None = None,
                           principal: Principal = allow("operations:write")) -> Response:
    """Resolve an incident after its cause was fixed; a job gets ``retries`` again."""
    web = backend(request)
    engine_call(web.engine.resolve_incident, incident_key, retries=(body.retries if body else 1))
    web.audit(principal.staff_id, "incident", str(incident_key), "resolve", {})
    return Response(status_code=204)


@router.post("/incidents/resolution", response_model=BulkRetryOut, response_model_by_alias=True, tags=["operations"])
async def resolve_incidents(request: Request, body: BulkRetry, principal: Principal = allow("operations:write")) -> BulkRetryOut:
    """Retry several incidents (none named: every open incident) after their cause was
    fixed; each that cannot be retried is listed with why."""
    web = backend(request)
    keys = body.incident_keys or [i.incident_key for i in web.engine.incidents()]
    resolved, failed = [], []
    for key in dict.fromkeys(keys):
        try:
            engine_call(web.engine.resolve_incident, key, retries=body.retries)
        except HTTPException as exc:
            failed.append({"incidentKey": key, "detail": exc.detail})
            continue
        web.audit(principal.staff_id, "incident", str(key), "resolve", {"bulk": True})
        resolved.append(key)
    return BulkRetryOut(resolved=resolved, failed=failed)
