"""The workload forecast page (``/forecast``), its chart and its CSV: for the PEP
co-ordinator and the Virtual School (the ``dashboard`` permission).

The figures are :func:`pepflow.forecast.weekly_workload` over the records this server
holds: a council's live records (the year so far), or a ``pep simulate`` run's (its
forecast and what-ifs). ``year`` picks the academic year (2026 = 2026/27); without it,
this year when it has PEPs, else the year with the most.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from pepflow.calendar import academic_year_label, academic_year_of
from pepflow.casework import local_date
from pepflow.forecast import to_csv, to_png, weekly_workload
from pepflow.store.workload import WorkloadQueries

from .pages import render
from .security import Principal, allow, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
Year = Query(None, ge=2000, le=2999, description="academic year: 2026 = 2026/27")


def _year(web, year: int | None) -> int:
    if year is not None:
        return year
    counts = WorkloadQueries(web.store).peps_by_academic_year()
    today = academic_year_of(local_date(web.now()))
    if counts.get(today) or not counts:
        return today
    return max(counts, key=lambda y: (counts[y], -y))


def _weeks(web, year: int):
    return weekly_workload(web.store, web.engine, date(year, 9, 1), date(year + 1, 7, 31))


@router.get("/forecast", response_class=HTMLResponse)
def forecast_page(request: Request, year: int | None = Year, principal: Principal = allow("dashboard")) -> Response:
    web = request.app.state.web.backend
    chosen = _year(web, year)
    weeks = _weeks(web, chosen)
    busiest = max(weeks, key=lambda w: w.typing_queue_per_officer, default=None)
    return render(request, "forecast.html", principal, weeks=weeks, year=chosen, label=academic_year_label(chosen),
                  busiest=busiest, years=sorted(WorkloadQueries(web.store).peps_by_academic_year()))


@router.get("/forecast.png")
def forecast_chart(request: Request, year: int | None = Year, principal: Principal = allow("dashboard")) -> Response:
    web = request.app.state.web.backend
    chosen = _year(web, year)
    png = to_png(_weeks(web, chosen), f"PEP workload by week, {academic_year_label(chosen)}")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/forecast.csv", response_class=PlainTextResponse)
def forecast_csv(request: Request, year: int | None = Year, principal: Principal = allow("dashboard")) -> PlainTextResponse:
    web = request.app.state.web.backend
    chosen = _year(web, year)
    web.audit(principal.staff_id, "report", "workload-forecast", "export-csv", {"academic_year": chosen})
    return PlainTextResponse(to_csv(_weeks(web, chosen)), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="pep-workload-{chosen}.csv"', "Cache-Control": "no-store"})
