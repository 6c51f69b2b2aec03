"""The operations pages (operators): search, incidents in words, the instance with
its diagram, history tree, visit counts and variables (issue 14, point 5)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from pepflow.engine.queries import variable_names

from . import operations_view as ov
from .operations_api import incident_out, instance_details, instance_out
from .pages import render
from .security import Principal, allow, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
PAGE_SIZE = 50


def _diagram(web) -> ov.DiagramIndex:
    try:
        definition = web.engine.latest_definition("pep")
        return ov.DiagramIndex(web.engine.definition_xml(definition.process_definition_key))
    except Exception:  # noqa: BLE001 - nothing deployed: searches by name find nothing, and say so
        return ov.DiagramIndex(None)


@router.get("/operations", response_class=HTMLResponse)
def operations_page(
    request: Request, child: str = Query("", max_length=80), pep: str = Query("", max_length=80),
    state: str = Query("", max_length=20), element: str = Query("", max_length=200),
    started_from: str = Query("", max_length=40), started_to: str = Query("", max_length=40),
    error: str = Query("", max_length=200), variable: str = Query("", max_length=100),
    value: str = Query("", max_length=200), incidents_only: str = Query("", max_length=3),
    elementId: str = Query("", max_length=200), page: int = Query(1, ge=1, le=100_000),
    principal: Principal = allow("operations:read"),
) -> Response:
    web = request.app.state.web.backend
    s = ov.Search(child=child, pep=pep, state=state.upper(), element=element or elementId, started_from=started_from,
                  started_to=started_to, error=error, variable=variable, value=value, incidents_only=incidents_only == "yes")
    diagram = _diagram(web)
    found = ov.search(web.engine, s, diagram)
    start = (page - 1) * PAGE_SIZE
    rows = found[start:start + PAGE_SIZE]
    variables = {i.process_instance_key: i.variables for i in found if i.incidents}
    incidents = [incident_out(i, variables.get(i.process_instance_key) or web.engine.instance(i.process_instance_key).variables)
                 for i in web.engine.incidents()]
    return render(request, "operations.html", principal, total=len(found), page=page, page_size=PAGE_SIZE,
                  instances=[instance_out(web, i, len(i.incidents)) for i in rows], incidents=incidents,
                  s=s, query=s.query(), element_names=sorted(set(diagram.names.values())),
                  variable_names=variable_names(web.engine, "pep"), when=ov.when, parse=datetime.fromisoformat)


@router.get("/operations/instances/{process_instance_key}", response_class=HTMLResponse)
def instance_page(request: Request, process_instance_key: int, principal: Principal = allow("operations:read")) -> Response:
    data = instance_details(request.app.state.web.backend, process_instance_key)
    return render(request, "instance.html", principal, i=data, tree=data.pop("_tree"), when=ov.when,
                  parse=datetime.fromisoformat)
