"""The Virtual School's quality review and Pupil Premium Plus pages (issue 15).

- ``/peps/{pepId}/quality``: the PEP's quality review rounds (ratings and comments per
  criterion), the rating form while a rating waits (Virtual School), the correction
  form while an improvement waits (the PEP's owner today), and the PEP's Pupil Premium
  Plus requests: request per target, decide, record impact of last term's spend.
- ``/quality/criteria``: the criteria the Virtual School rates against (it edits them).
- ``/dashboard/quality``: red/amber/green by school, social worker and term, and trend.
- ``/ppp``, ``/ppp.csv``: the Pupil Premium Plus ledger of a financial year.

Refusals are shown on the page with the reason (status 400); every change is audited
by the records store under the PEP.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from pepflow.casework import local_date
from pepflow.corrections import CORRECTABLE, CorrectionRefused
from pepflow.domain.quality import Rag, financial_year_label, financial_year_of
from pepflow.engine.errors import EngineError
from pepflow.ppp import ledger, ledger_csv
from pepflow.quality import IMPROVE_TASK, RATE_TASK, QualityService
from pepflow.store.errors import RecordsError, UnknownRecord
from pepflow.store.ppp import PppRecords, target_numbers
from pepflow.store.quality import QualityRecords

from .pages import render
from .security import Principal, allow, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
Year = Query(None, ge=2000, le=2999, description="financial year by its first year: 2026 = 2026-27")
MAX_FIELD = 4000


def _service(web) -> QualityService:
    return QualityService(web.store, web.engine, web.clock, web.casework)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    values = {}
    for key, value in form.items():
        if not isinstance(value, str):
            raise HTTPException(400, f"{key}: a file is not expected here")
        if len(value) > MAX_FIELD:
            raise HTTPException(400, f"{key} is longer than {MAX_FIELD} characters: shorten it")
        values[key] = value
    return values


def _page(request: Request, principal: Principal, pep_id: str, *, error: str | None = None,
          status_code: int = 200) -> Response:
    web = request.app.state.web.backend
    pep, child = web.pep_for(principal, pep_id)
    service = _service(web)
    rate_task = service.open_task(pep.id, RATE_TASK)
    improve_task = service.open_task(pep.id, IMPROVE_TASK)
    ppp = PppRecords(web.store)
    school = web.store.section(pep.id, "school-return") or {}
    return render(
        request, "pep_quality.html", principal, status_code=status_code, pep=pep, child=child, error=error,
        reviews=service.records.reviews_for(pep.id), criteria=service.records.criteria(),
        can_rate=rate_task is not None and principal.can("quality:rate"),
        can_improve=improve_task is not None and principal.can("pep:write") and _owns(web, principal, child),
        improving=improve_task is not None, correctable=sorted(s.value for s in CORRECTABLE),
        requests=ppp.for_pep(pep.id), last_terms=ppp.last_terms_spend(pep.id),
        targets=target_numbers(school),
        can_request=principal.can("ppp:request") and web.access.may_see_child(principal, child),
        can_decide=principal.can("ppp:decide"),
    )


def _owns(web, principal: Principal, child) -> bool:
    """The PEP's owner by today's allocation, or the team manager of the child's locality."""
    assignment = web.allocation_state(child.id)
    return (assignment is not None and assignment.staff_id == principal.staff_id) or \
        (principal.is_team_manager and child.locality == principal.team)


@router.get("/peps/{pep_id}/quality", response_class=HTMLResponse)
def pep_quality_page(request: Request, pep_id: str, principal: Principal = allow("pep:read")) -> Response:
    web = request.app.state.web.backend
    pep, _child = web.pep_for(principal, pep_id)
    web.store.record_pep_view(pep.id, actor=principal.staff_id)
    return _page(request, principal, pep.id)


def _done(pep_id: str) -> Response:
    return RedirectResponse(f"/peps/{pep_id}/quality", status_code=303)


@router.post("/peps/{pep_id}/quality/rating")
async def rate_pep_quality(request: Request, pep_id: str, principal: Principal = allow("quality:rate")) -> Response:
    web = request.app.state.web.backend
    pep, _child = web.pep_for(principal, pep_id)
    values = await _form(request)
    ratings = {c.code: (values.get(f"rating-{c.code}", ""), values.get(f"comment-{c.code}"))
               for c in QualityRecords(web.store).criteria()}
    try:
        _service(web).rate(pep.id, ratings, values.get("overall", ""), values.get("overall-comment"),
                           actor=principal.staff_id, login=principal.login)
    except (RecordsError, EngineError) as exc:
        return _page(request, principal, pep.id, error=str(exc), status_code=400)
    return _done(pep.id)


@router.post("/peps/{pep_id}/quality/improvement")
async def improve_pep(request: Request, pep_id: str, principal: Principal = allow("pep:write")) -> Response:
    web = request.app.state.web.backend
    pep, child = web.pep_for(principal, pep_id)
    assignment = web.allocation_state(child.id)
    owner = assignment is not None and assignment.staff_id == principal.staff_id
    manager = principal.is_team_manager and child.locality == principal.team
    if not (owner or manager):
        raise HTTPException(403, "only the PEP's owner (by today's allocation) or the team manager improves a PEP "
                                 "returned by the Virtual School")
    service = _service(web)
    values = await _form(request)
    field = values.get("field", "")
    try:
        await service.improve(pep.id, values.get("section", ""), {field: values.get("value", "")},
                              reason=values.get("reason", ""), actor=principal.staff_id, login=principal.login)
    except (CorrectionRefused, RecordsError, EngineError) as exc:
        return _page(request, principal, pep.id, error=str(exc), status_code=400)
    return _done(pep.id)


@router.post("/peps/{pep_id}/ppp")
async def request_ppp(request: Request, pep_id: str, principal: Principal = allow("ppp:request")) -> Response:
    web = request.app.state.web.backend
    pep, child = web.pep_for(principal, pep_id)
    if not web.access.may_see_child(principal, child):
        raise HTTPException(403, "Pupil Premium Plus is requested by the child's worker or their locality's business support")
    values = await _form(request)
    try:
        PppRecords(web.store).request(pep.id, values.get("target", ""), values.get("amount", ""),
                                      values.get("purpose", ""), actor=principal.staff_id)
    except RecordsError as exc:
        return _page(request, principal, pep.id, error=str(exc), status_code=400)
    return _done(pep.id)


def _request_for(request: Request, principal: Principal, request_id: int):
    web = request.app.state.web.backend
    try:
        found = PppRecords(web.store).get(request_id)
    except UnknownRecord:
        raise HTTPException(404, f"no Pupil Premium Plus request {request_id}") from None
    web.pep_for(principal, found.pep_id)  # the scope of the PEP it belongs to
    return found


@router.post("/ppp/{request_id}/decision")
async def decide_ppp(request: Request, request_id: int, principal: Principal = allow("ppp:decide")) -> Response:
    web = request.app.state.web.backend
    found = _request_for(request, principal, request_id)
    values = await _form(request)
    decision = values.get("decision")
    try:
        if decision not in ("approve", "refuse"):
            raise RecordsError("choose approve or refuse")
        PppRecords(web.store).decide(request_id, decision == "approve", values.get("reason"), actor=principal.staff_id)
    except RecordsError as exc:
        return _page(request, principal, found.pep_id, error=str(exc), status_code=400)
    return _done(found.pep_id)


@router.post("/ppp/{request_id}/impact")
async def record_ppp_impact(request: Request, request_id: int, principal: Principal = allow("ppp:request")) -> Response:
    web = request.app.state.web.backend
    found = _request_for(request, principal, request_id)
    values = await _form(request)
    at_pep = values.get("pep", "")
    try:
        pep, child = web.pep_for(principal, at_pep) if at_pep else (None, None)
        if pep is None or not web.access.may_see_child(principal, child):
            raise RecordsError("record the impact at the child's current PEP, from its quality page")
        PppRecords(web.store).record_impact(request_id, values.get("impact", ""), at_pep_id=pep.id,
                                            actor=principal.staff_id)
    except RecordsError as exc:
        return _page(request, principal, at_pep or found.pep_id, error=str(exc), status_code=400)
    return _done(pep.id)


@router.get("/quality/criteria", response_class=HTMLResponse)
def quality_criteria_page(request: Request, principal: Principal = allow("dashboard")) -> Response:
    web = request.app.state.web.backend
    return render(request, "quality_criteria.html", principal, error=None,
                  criteria=QualityRecords(web.store).criteria(include_retired=True),
                  can_edit=principal.can("quality:rate"))


@router.post("/quality/criteria")
async def save_quality_criterion(request: Request, principal: Principal = allow("quality:rate")) -> Response:
    web = request.app.state.web.backend
    values = await _form(request)
    records = QualityRecords(web.store)
    try:
        records.seed_criteria(actor=principal.staff_id)
        records.save_criterion(values.get("code", ""), values.get("title", ""), values.get("guidance", ""),
                               active=values.get("active", "yes") == "yes", actor=principal.staff_id)
    except RecordsError as exc:
        return render(request, "quality_criteria.html", principal, status_code=400, error=str(exc),
                      criteria=records.criteria(include_retired=True), can_edit=True)
    return RedirectResponse("/quality/criteria", status_code=303)


def quality_figures(web) -> dict[str, Any]:
    """RAG of each PEP's latest rated round by school, social worker and term; the
    trend is the share of each rating term by term."""
    latest: dict[str, tuple] = {}
    for review, pep in QualityRecords(web.store).rated_rounds():
        latest[pep.id] = (review, pep)
    schools = {s.id: s.name for s in web.store.settings()}
    staff = {s.id: s.name for s in web.store.all_staff()}
    by: dict[str, dict[str, Counter]] = {"school": defaultdict(Counter), "worker": defaultdict(Counter),
                                         "term": defaultdict(Counter)}
    for review, pep in latest.values():
        rag = review.rating.value
        by["school"][schools.get(pep.setting_id, "(no school)")][rag] += 1
        by["worker"][staff.get(pep.owner_staff_id, "(nobody allocated)")][rag] += 1
        term = f"{pep.term.value.title()} {pep.academic_year}/{(pep.academic_year + 1) % 100:02d}"
        by["term"][(pep.academic_year, pep.term.index, term)][rag] += 1
    trend = []  # term by term, oldest first: the counts and the share rated green
    for key in sorted(by["term"]):
        counts = by["term"][key]
        trend.append((key[2], counts, round(100 * counts["green"] / max(1, sum(counts.values())))))
    return {"by_school": sorted(by["school"].items()), "by_worker": sorted(by["worker"].items()), "trend": trend,
            "rags": [r.value for r in Rag], "rated": len(latest)}


@router.get("/dashboard/quality", response_class=HTMLResponse)
def quality_dashboard_page(request: Request, principal: Principal = allow("dashboard")) -> Response:
    web = request.app.state.web.backend
    return render(request, "dashboard_quality.html", principal, q=quality_figures(web))


def _year(web, year: int | None) -> int:
    return year if year is not None else financial_year_of(local_date(web.now()))


@router.get("/ppp", response_class=HTMLResponse)
def ppp_ledger_page(request: Request, year: int | None = Year, principal: Principal = allow("dashboard")) -> Response:
    web = request.app.state.web.backend
    chosen = _year(web, year)
    web.audit(principal.staff_id, "report", "ppp-ledger", "view", {"financial_year": chosen})
    return render(request, "ppp_ledger.html", principal, book=ledger(web.store, chosen), year=chosen,
                  label=financial_year_label(chosen))


@router.get("/ppp.csv", response_class=PlainTextResponse)
def ppp_ledger_csv(request: Request, year: int | None = Year, principal: Principal = allow("dashboard")) -> Response:
    web = request.app.state.web.backend
    chosen = _year(web, year)
    web.audit(principal.staff_id, "report", "ppp-ledger", "export-csv", {"financial_year": chosen})
    return PlainTextResponse(ledger_csv(web.store, chosen), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="ppp-ledger-{financial_year_label(chosen)}.csv"',
        "Cache-Control": "no-store"})
