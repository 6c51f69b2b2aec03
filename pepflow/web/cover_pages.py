"""The cover page (``/cover``): the workers a team manager or the PEP co-ordinator
manages, their caseloads today, who is away and who covers, and the forms to record
an absence or move a caseload (the API in :mod:`pepflow.web.api_cover`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from pepflow.store.allocations import OWNER_STAFF_ROLES

from .api_cover import _manages_staff, absence_out, visible_absences
from .pages import render
from .security import Principal, allow, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)


@router.get("/cover", response_class=HTMLResponse)
def cover_page(request: Request, principal: Principal = allow("tasks:reassign")) -> Response:
    web = request.app.state.web.backend
    today = web.access.today()
    everyone = web.store.all_staff()
    workers = []
    for staff in everyone:
        if not set(staff.roles) & OWNER_STAFF_ROLES or not _manages_staff(principal, staff):
            continue
        away = web.store.cover.absent_on(staff.id, today)
        workers.append({"staff": staff, "children": len(web.store.allocations.children_of(staff.id, today)),
                        "away": absence_out(web, away) if away else None})
    caseworkers = [s for s in everyone if set(s.roles) & OWNER_STAFF_ROLES]
    return render(request, "cover.html", principal, workers=workers, caseworkers=caseworkers,
                  absences=[absence_out(web, a) for a in visible_absences(web, principal)], today=today)
