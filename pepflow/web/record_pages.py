"""The PEP and child pages, in plain English (issue 14, point 4).

The PEP page is a list of partial templates (``PEP_SECTIONS``); another part of the
product adds a section by adding a partial and, when it needs data, a context
provider to ``PEP_CONTEXT`` (a function of the backend, the principal and the
PEP's details returning a dict) - the page itself does not change.
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from . import timeline, words
from .api import task_out
from .pages import render
from .security import Principal, allow, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)

#: the PEP page's sections, in order; a missing partial is skipped (``ignore missing``)
PEP_SECTIONS: list[str] = [
    "_pep_summary.html", "_pep_tasks.html", "_pep_review.html", "_pep_return.html", "_pep_quality_link.html",
    "_pep_documents.html", "_pep_upload.html", "_pep_mail.html", "_pep_timeline.html",
]
#: extra context for sections added by other parts of the product
PEP_CONTEXT: list[Callable[[Any, Principal, dict[str, Any]], dict[str, Any]]] = []


TOOLS = {"system": "The system", "SYSTEM": "The system", "mail-sender": "The mail sender",
         "sample-data": "The sample data import", "import": "The council's import"}


class People:
    """Staff id -> "Name (role)" for the pages, one lookup per id per request."""

    def __init__(self, store) -> None:
        self.store, self._seen = store, {}

    def __call__(self, staff_id: str | None) -> str:
        if not staff_id:
            return "nobody"
        if staff_id in TOOLS:
            return TOOLS[staff_id]
        if staff_id not in self._seen:
            try:
                self._seen[staff_id] = self.store.staff(staff_id).name
            except Exception:  # noqa: BLE001 - not a staff record (a tool, an import): shown as it is
                self._seen[staff_id] = staff_id
        return self._seen[staff_id]

    def login(self, login: str | None) -> str:
        """A task's assignee (an Identity login) as the person's name."""
        if not login:
            return "nobody"
        staff = self.store.staff_by_login(login)
        return staff.name if staff else login


def element_namer(web) -> Callable[[str], str]:
    try:
        names = web.element_names(web.engine.latest_definition("pep").process_definition_key)
    except Exception:  # noqa: BLE001 - no diagram deployed: ids are shown
        names = {}
    return lambda element_id: names.get(element_id, element_id)


def _kinds(show: list[str] | None) -> tuple[str, ...]:
    try:
        return timeline.chosen_kinds(show)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/peps/{pep_id}", response_class=HTMLResponse)
def pep_page(request: Request, pep_id: str, show: list[str] | None = Query(None, max_length=10),
             principal: Principal = allow("pep:read")) -> Response:
    web = request.app.state.web.backend
    kinds = _kinds(show)
    d = web.pep_details(principal, pep_id)
    names = web.child_names()
    person, element = People(web.store), element_namer(web)
    pep = d["pep"]
    entries = [timeline.audit_entry(a, person=person, element=element) for a in d["history"]]
    setting = None
    if pep.setting_id:
        try:
            setting = web.store.setting(pep.setting_id)
        except Exception:  # noqa: BLE001 - shown by its id
            setting = None
    context: dict[str, Any] = {
        "d": d, "p": pep, "can_upload": principal.can("pep:upload"), "person": person, "setting": setting,
        "open_tasks": [task_out(web, principal, t, names) for t in d["openTasks"]],
        "timeline": timeline.build(entries, kinds), "timeline_kinds": timeline.KINDS, "chosen_kinds": kinds,
        "timeline_total": len(entries), "sections": PEP_SECTIONS,
    }
    for provider in PEP_CONTEXT:
        context.update(provider(web, principal, d))
    return render(request, "pep.html", principal, **context)


@router.get("/children/{child_id}", response_class=HTMLResponse)
def child_page(request: Request, child_id: str, show: list[str] | None = Query(None, max_length=10),
               principal: Principal = allow("pep:read")) -> Response:
    web = request.app.state.web.backend
    kinds = _kinds(show)
    d = web.child_details(principal, child_id)
    child = d["child"]
    person, element = People(web.store), element_namer(web)
    contacts = web.store.contacts_for(child.id)
    schools = []
    for e in sorted(web.store.enrolments(child.id), key=lambda e: e.starts_on, reverse=True):
        try:
            setting = web.store.setting(e.setting_id)
        except Exception:  # noqa: BLE001 - shown by its id
            setting = None
        schools.append({"enrolment": e, "setting": setting})
    pep_ids = {p.id for p in d["peps"]}
    names = web.child_names()
    tasks = [task_out(web, principal, t, names) for t in web.engine.user_tasks()
             if t.variables.get("childId") == child.id and web.access.may_see_task(principal, t)]
    entries = [timeline.audit_entry(a, person=person, element=element) for a in web.store.audit_entries("child", child.id)]
    for pep_id in sorted(pep_ids):
        entries += [timeline.audit_entry(a, person=person, element=element) for a in web.store.audit_entries("pep", pep_id)]
    return render(request, "child.html", principal, d=d, contacts=contacts, schools=schools, open_tasks=tasks,
                  person=person, timeline=timeline.build(entries, kinds), timeline_kinds=timeline.KINDS,
                  chosen_kinds=kinds, timeline_total=len(entries))
