"""The Virtual School dashboard (issue 14, point 6): cards that drill down to the
children behind them, filters, the trend over terms, and a CSV with a row per child.

The page is built from partials (``DASHBOARD_SECTIONS``); another part of the product
adds a card section by adding a partial and, for its data, a provider to
``DASHBOARD_CONTEXT`` (a function of the backend and the filters returning a dict)."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from markupsafe import Markup

from . import dashboard_view as dv
from .api import COMMON_RESPONSES, backend
from .pages import render
from .security import Principal, allow, check_csrf

pages = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
api = APIRouter(prefix="/api/v1", dependencies=[Depends(check_csrf)], responses=COMMON_RESPONSES)

DASHBOARD_SECTIONS: list[str] = ["_dashboard_cards.html", "_dashboard_quality_link.html", "_dashboard_children.html", "_dashboard_late.html",
                                 "_dashboard_trend.html"]
DASHBOARD_CONTEXT: list[Callable[[Any, dv.Filters], dict[str, Any]]] = []


def _filters(locality: str, school: str, worker: str, term: str) -> dv.Filters:
    return dv.Filters(locality=locality.strip(), school=school.strip(), worker=worker.strip(), term=term.strip())


# the page takes anything and says in words what it refused; the API documents the shapes
FILTER_PARAMS = dict(
    locality=Query("", max_length=60, description="a locality (e.g. north)"),
    school=Query("", max_length=60, description="an education setting id (ES-0001)"),
    worker=Query("", max_length=60, description="the PEP owner's staff id (ST-0001)"),
    term=Query("", max_length=20, description="a term, `2026-autumn`; empty: the current term"),
)
API_FILTERS = dict(
    locality=Query("", max_length=60, pattern=r"^[a-z0-9-]*$", description="a locality (e.g. north)"),
    school=Query("", max_length=60, pattern=r"^[A-Za-z0-9-]*$", description="an education setting id (ES-0001)"),
    worker=Query("", max_length=60, pattern=r"^[A-Za-z0-9-]*$", description="the PEP owner's staff id (ST-0001)"),
    term=Query("", max_length=20, pattern=r"^([0-9]{4}-(autumn|spring|summer))?$",
               description="a term, `2026-autumn`; empty: the current term"),
)


def _checked(web, f: dv.Filters) -> None:
    """A filter that names no locality, school or worker is answered 404 (nothing by
    that name), saying which."""
    dv.check(f, dv.filter_options(web.dashboard_reader()))
    if f.problems:
        raise HTTPException(404, "; ".join(f.problems))


@pages.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, card: str = Query("", max_length=20), locality: str = FILTER_PARAMS["locality"],
                   school: str = FILTER_PARAMS["school"], worker: str = FILTER_PARAMS["worker"],
                   term: str = FILTER_PARAMS["term"], principal: Principal = allow("dashboard")) -> Response:
    web = request.app.state.web.backend
    f = _filters(locality, school, worker, term)
    reader = web.dashboard_reader()
    options = dv.filter_options(reader)
    dv.check(f, options)
    result = reader.compute(f)
    if card and card not in dv.CARDS:
        f.problems.append(f"There is no card “{card[:20]}”; choose one of the cards")
        card = ""
    from pepflow.escalation import KINDS

    trend = reader.trend(f)
    context: dict[str, Any] = {
        "f": result, "filters": f, "query": f.query(), "card": card, "cards": dv.CARDS,
        "children": [line for line in result["lines"] if card in line.cards] if card else [],
        "options": options, "trend": trend, "chart": Markup(dv.chart_svg(trend)),
        "escalation_words": {code: kind.what[0].upper() + kind.what[1:] for code, kind in KINDS.items()},
        "sections": DASHBOARD_SECTIONS,
    }
    for provider in DASHBOARD_CONTEXT:
        context.update(provider(web, f))
    return render(request, "dashboard.html", principal, **context)


@api.get("/dashboard", tags=["Virtual School"])
def get_dashboard(request: Request, locality: str = API_FILTERS["locality"], school: str = API_FILTERS["school"],
                  worker: str = API_FILTERS["worker"], term: str = API_FILTERS["term"],
                  principal: Principal = allow("dashboard")) -> dict[str, Any]:
    """Every card's figure; filters narrow the children first."""
    f = _filters(locality, school, worker, term)
    web = backend(request)
    _checked(web, f)
    return web.dashboard(f)


@api.get("/dashboard.csv", tags=["Virtual School"], response_class=PlainTextResponse, responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "One table: a row per child in care (after filters), a yes/no column per card and the reasons"},
})
def get_dashboard_csv(request: Request, locality: str = API_FILTERS["locality"], school: str = API_FILTERS["school"],
                      worker: str = API_FILTERS["worker"], term: str = API_FILTERS["term"],
                      principal: Principal = allow("dashboard")) -> PlainTextResponse:
    web = backend(request)
    f = _filters(locality, school, worker, term)
    _checked(web, f)
    result = web.dashboard_reader().compute(f)
    web.audit(principal.staff_id, "report", "virtual-school-dashboard", "export-csv", {"filters": f.query()})
    return PlainTextResponse(dv.csv_rows(result), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="pep-dashboard-{result["asOf"]}.csv"'})
