"""The council events page (``/events``): record what happened to a child - came
into care, left care, changed school, a PEP meeting moved/cancelled/not held - with
the API in :mod:`pepflow.web.api_events` (the same checks as ``pep event``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from .pages import render
from .security import Principal, allow, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)


@router.get("/events", response_class=HTMLResponse)
def events_page(request: Request, child: str | None = Query(None, max_length=40), pep: str | None = Query(None, max_length=80),
                principal: Principal = allow("events:write")) -> Response:
    web = request.app.state.web.backend
    settings = sorted(web.store.settings(), key=lambda s: s.name)
    return render(request, "events.html", principal, child=(child or "").strip().upper(), settings=settings, pep=(pep or "").strip(),
                  today=web.access.today())
