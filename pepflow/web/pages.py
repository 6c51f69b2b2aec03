"""Server-rendered pages (Jinja2); actions go through the JSON API from plain JS."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from .api import task_out
from .security import Principal, allow, check_csrf, load_principal

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)


from . import words  # noqa: E402 - the filters every page uses

words.register(templates.env)


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




@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, principal: Principal = allow("accounts")) -> Response:
    from .api import account_out

    web = request.app.state.web.backend
    return render(request, "users.html", principal, accounts=[account_out(web, a) for a in web.accounts.all()],
                  staff=web.store.all_staff())
