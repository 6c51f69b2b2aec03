"""The review of a returned form (``/reviews``; issue 12): business support sees, side
by side, what was read, what was flagged (where, and the school's own words) and what
changes against earlier returns, and accepts, accepts with edits (each checked on the
server against the school part of the form; refused edits come back with a GOV.UK
error summary) or asks the school again with a message in words.

The decision goes through :func:`pepflow.return_review.decide`: recorded with who made
it, then the process's ``ReviewReturnedFormTask`` is completed (checked against its
form) - the same path as ``pep form-review`` on the command line.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pepflow.documents import SchoolReturn
from pepflow.return_review import decide
from pepflow.school_returns import InvalidEdits, ReturnRefused, label
from pepflow.store.errors import RecordsError

from .pages import render
from .security import Principal, allow, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)

#: answers that are lists (targets, subjects, target reviews) are edited in the records,
#: not as one text box
_NOT_EDITABLE = {name for name, f in SchoolReturn.model_fields.items() if f.default_factory is list}


def _return_for(web, principal: Principal, return_id: int):
    try:
        stored = web.store.returns.get(return_id)
    except RecordsError:
        raise HTTPException(404, f"no returned form {return_id}") from None
    web.pep_for(principal, stored.pep_id)  # the child must be one this person may see
    return stored


def _editable(report) -> list[str]:
    """The answers offered for editing: every flagged or changed answer, then the rest read."""
    names = [f.field for f in report.findings if f.field] + [c["field"] for c in report.changes]
    names += [k for k, v in report.read.items() if v not in (None, "", [])]
    seen: list[str] = []
    for name in names:
        if name not in seen and name not in _NOT_EDITABLE and "." not in name:
            seen.append(name)
    return seen


def _prefill(report) -> dict[str, str]:
    """What each answer box shows: the answer read, else what the school wrote there."""
    shown = {k: ("" if v is None else str(v)) for k, v in report.read.items()}
    for f in report.findings:
        if f.field and not shown.get(f.field):
            shown[f.field] = f.text
    return shown


def _page(request: Request, principal: Principal, web, return_id: int, *, errors: dict[str, str] | None = None,
          values: dict[str, str] | None = None, status_code: int = 200, done: str | None = None) -> Response:
    report = web.casework.returns.report(return_id)
    shown = _prefill(report)
    return render(request, "review.html", principal, status_code=status_code, r=report, label=label,
                  editable=_editable(report), values={**shown, **(values or {})}, errors=errors or {}, done=done)


@router.get("/reviews", response_class=HTMLResponse)
def reviews_page(request: Request, principal: Principal = allow("returns:review")) -> Response:
    web = request.app.state.web.backend
    visible = []
    for report in web.casework.returns.pending():
        try:
            web.pep_for(principal, report.pep_id)
        except HTTPException:
            continue
        visible.append(report)
    return render(request, "reviews.html", principal, reports=visible)


@router.get("/reviews/{return_id}", response_class=HTMLResponse)
def review_page(request: Request, return_id: int, done: str | None = None,
                principal: Principal = allow("returns:review")) -> Response:
    web = request.app.state.web.backend
    stored = _return_for(web, principal, return_id)
    web.store.record_pep_view(stored.pep_id, actor=principal.staff_id)
    words = {"accept": "Accepted: the form is taken into the PEP.",
             "ask-again": "The school has been asked again; the PEP waits for their next return."}
    return _page(request, principal, web, return_id, done=words.get(done or ""))


@router.post("/reviews/{return_id}", response_class=HTMLResponse)
async def review_decide(request: Request, return_id: int, principal: Principal = allow("returns:review")) -> Response:
    web = request.app.state.web.backend
    _return_for(web, principal, return_id)
    form = await request.form()
    decision = str(form.get("decision") or "")
    submitted: dict[str, Any] = {}
    report = web.casework.returns.report(return_id)
    shown = _prefill(report)
    for name in _editable(report):
        value = form.get(f"edit.{name}")
        if isinstance(value, str) and value.strip() != shown.get(name, "").strip():
            submitted[name] = value.strip()
    try:
        if decision == "accept":
            await decide(web, return_id, "accept", actor=principal.staff_id, edits=submitted or None)
        elif decision == "ask-again":
            query = str(form.get("query") or "").strip()
            if not query:
                return _page(request, principal, web, return_id, status_code=422,
                             errors={"query": "Enter what the school is asked"}, values={k: str(v) for k, v in submitted.items()})
            await decide(web, return_id, "ask-again", actor=principal.staff_id, query=query)
        else:
            return _page(request, principal, web, return_id, status_code=422, errors={"decision": "Choose accept or ask the school again"})
    except InvalidEdits as exc:
        errors = {name: message for name, message in exc.errors.items()}
        return _page(request, principal, web, return_id, status_code=422, errors=errors,
                     values={k: str(v) for k, v in submitted.items()})
    except (ReturnRefused, RecordsError) as exc:
        return _page(request, principal, web, return_id, status_code=409, errors={"decision": str(exc)})
    return RedirectResponse(f"/reviews/{return_id}?done={decision}", status_code=303)


def _pep_page_returns(web, principal: Principal, details: dict[str, Any]) -> dict[str, Any]:
    """The PEP page's "Returned forms" section (`_pep_review.html`): each return with its
    status, flags and changes, linked to its review for business support."""
    pep_id = details["pep"].id
    return {"returns": [web.casework.returns.report(x.id) for x in web.store.returns.for_pep(pep_id)],
            "can_review": principal.can("returns:review")}


def _register() -> None:
    from .record_pages import PEP_CONTEXT

    if _pep_page_returns not in PEP_CONTEXT:
        PEP_CONTEXT.append(_pep_page_returns)


_register()
