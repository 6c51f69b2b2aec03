"""Server-rendered pages (Jinja2); actions go through the JSON API from plain JS."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from pepflow.casework import local_date

from .api import instance_out, task_out
from .security import Principal, allow, check_csrf, load_principal

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)


def _fmt(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "astimezone"):
        from pepflow.casework import LONDON

        return value.astimezone(LONDON).strftime("%d %b %Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d %b %Y")
    return str(value)


def _ukdate(value, short: bool = False) -> str:
    """A day as England writes it: 27 March 2027 (short: 27/03/2027)."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if hasattr(value, "astimezone"):
        from pepflow.casework import LONDON

        value = value.astimezone(LONDON).date()
    return value.strftime("%d/%m/%Y") if short else f"{value.day} {value.strftime('%B %Y')}"


templates.env.filters["when"] = _fmt
templates.env.filters["ukdate"] = _ukdate
templates.env.filters["ukdate_short"] = lambda v: _ukdate(v, short=True)


def render(request: Request, name: str, principal: Principal | None, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("csrf", principal.csrf if principal else "")
    return templates.TemplateResponse(request, name, {"me": principal, **context}, status_code=status_code)


def error_page(request: Request, status_code: int, message: str) -> Response:
    return render(request, "error.html", load_principal(request), status_code=status_code,
                  status=status_code, message=message)


@router.get("/", response_class=HTMLResponse)
def home(principal: Principal = allow("signed-in")) -> Response:
    if principal.can("tasks:read"):
        return RedirectResponse("/tasks", status_code=303)
    if principal.can("operations:read"):
        return RedirectResponse("/operations", status_code=303)
    if principal.can("accounts"):
        return RedirectResponse("/admin/users", status_code=303)
    return RedirectResponse("/sign-in", status_code=303)


@router.get("/peps/{pep_id}", response_class=HTMLResponse)
def pep_page(request: Request, pep_id: str, principal: Principal = allow("pep:read")) -> Response:
    web = request.app.state.web.backend
    d = web.pep_details(principal, pep_id)
    names = web.child_names()
    return render(request, "pep.html", principal, d=d, can_upload=principal.can("pep:upload"),
                  open_tasks=[task_out(web, principal, t, names) for t in d["openTasks"]])


@router.get("/children/{child_id}", response_class=HTMLResponse)
def child_page(request: Request, child_id: str, principal: Principal = allow("pep:read")) -> Response:
    web = request.app.state.web.backend
    return render(request, "child.html", principal, d=web.child_details(principal, child_id))


@router.get("/operations", response_class=HTMLResponse)
def operations_page(request: Request, state: str | None = None, elementId: str | None = Query(None, max_length=200),
                    page: int = Query(1, ge=1), principal: Principal = allow("operations:read")) -> Response:
    web = request.app.state.web.backend
    if state not in ("ACTIVE", "COMPLETED", "CANCELED"):
        state = None
    total, rows, incidents = web.instance_rows(state=state, element_id=elementId, page=page, page_size=50)
    return render(request, "operations.html", principal, total=total, page=page,
                  instances=[instance_out(web, i, incidents.get(i.process_instance_key, 0)) for i in rows],
                  incidents=web.engine.incidents(), filters={"state": state or "", "elementId": elementId or ""})


@router.get("/operations/instances/{process_instance_key}", response_class=HTMLResponse)
def instance_page(request: Request, process_instance_key: int, principal: Principal = allow("operations:read")) -> Response:
    from .api import get_process_instance

    data = get_process_instance(request, process_instance_key, principal)
    return render(request, "instance.html", principal, i=data)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, principal: Principal = allow("dashboard")) -> Response:
    web = request.app.state.web.backend
    from pepflow.escalation import KINDS

    words = {code: kind.what[0].upper() + kind.what[1:] for code, kind in KINDS.items()}
    return render(request, "dashboard.html", principal, f=web.dashboard(), today=local_date(web.now()),
                  escalation_words=words)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, principal: Principal = allow("accounts")) -> Response:
    from .api import account_out

    web = request.app.state.web.backend
    return render(request, "users.html", principal, accounts=[account_out(web, a) for a in web.accounts.all()],
                  staff=web.store.all_staff())
