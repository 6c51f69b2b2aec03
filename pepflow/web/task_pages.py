"""The task list (``/tasks``) and a task's page (``/tasks/{key}``): a caseworker's
day, as Camunda Tasklist users expect it - queues (mine, my team's unclaimed, who in
my team has claimed what, what I completed, all), search by child or PEP reference or
a child's name, dates as England writes them (a date that is not a real one is
refused in words on the page), names instead of logins, and a list that refreshes
itself (``static/tasks.js`` polls this page)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from .api import task_out
from .fields import Checker
from .pages import render
from .security import Principal, allow, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)

STEPS = [("ArrangeInitialMeetingTask", "Arrange initial PEP meeting"),
         ("CompletePepFormTask", "Complete social worker's part of PEP"),
         ("RecordMeetingTask", "Record PEP meeting and next dates"),
         ("TypeUpPepTask", "Type up PEP"), ("CheckAndFinalisePepTask", "Check and finalise PEP")]
PAGE_SIZE = 50


def queues_for(principal: Principal) -> list[tuple[str, str]]:
    queues = [("mine", "My tasks")]
    if principal.candidate_groups:
        queues.append(("team", "My team's unclaimed tasks"))
        queues.append(("claimed", "Claimed in my team"))
    if principal.reads_all:
        queues.append(("all", "All tasks"))
    if principal.can("tasks:work"):
        queues.append(("done", "Completed by me"))
    return queues


@router.get("/tasks", response_class=HTMLResponse)
def tasks_page(
    request: Request, queue: str | None = Query(None, max_length=20), childRef: str | None = Query(None, max_length=80),
    elementId: str | None = Query(None, max_length=200), dueBefore: str | None = Query(None, max_length=40),
    overdue: str | None = Query(None, max_length=10), order: str = Query("asc", max_length=10),
    page: int = Query(1, ge=1, le=100_000), principal: Principal = allow("tasks:read"),
) -> Response:
    web = request.app.state.web.backend
    queues = queues_for(principal)
    if queue not in {key for key, _label in queues}:
        queue = None
    check = Checker()
    due_before = check.day("dueBefore", dueBefore, "the due-by date", required=False)
    errors = check.errors
    queue, total, tasks = web.list_tasks(
        principal, queue=queue, child_ref=childRef, element_id=elementId, due_before=due_before, due_after=None,
        overdue=True if overdue == "yes" else None, descending=order == "desc", page=page, page_size=PAGE_SIZE,
    )
    team_waiting = 0
    if queue == "mine" and not tasks and principal.candidate_groups:
        _q, team_waiting, _t = web.list_tasks(principal, queue="team", child_ref=None, element_id=None, due_before=None,
                                              due_after=None, overdue=None, descending=False, page=1, page_size=1)
    names = web.child_names()
    filtered = bool(childRef or elementId or dueBefore or overdue)
    return render(request, "tasks.html", principal, queue=queue, queues=queues, total=total, page=page,
                  page_size=PAGE_SIZE, tasks=[task_out(web, principal, t, names) for t in tasks], steps=STEPS,
                  errors=errors, team_waiting=team_waiting, filtered=filtered,
                  filters={"childRef": childRef or "", "elementId": elementId or "", "dueBefore": dueBefore or "",
                           "overdue": overdue or "", "order": order})


@router.get("/tasks/{user_task_key}", response_class=HTMLResponse)
def task_page(request: Request, user_task_key: int, principal: Principal = allow("tasks:read")) -> Response:
    from pepflow.review_notes import return_comments

    from .task_context import context_for

    web = request.app.state.web.backend
    task = web.task_for(principal, user_task_key)
    pep_id = task.variables.get("pepId")
    comments = return_comments(web.store, pep_id) if pep_id and task.element_id == "TypeUpPepTask" else []
    review_id = task.variables.get("schoolReturnId") if task.element_id == "ReviewReturnedFormTask" else None
    child = web.access._child(task)  # noqa: SLF001 - the task's child, read by the access rules
    may_give = child is not None and task.state == "CREATED" and web.access.may_reassign(principal, child)
    colleagues = [s for s in web.store.all_staff() if may_give and _may_take(s, task, child, web)]
    return render(request, "task.html", principal, task=task_out(web, principal, task, web.child_names()),
                  return_comments=comments, review_id=review_id, may_give=may_give, colleagues=colleagues,
                  context=context_for(web, task))


def _may_take(staff, task, child, web) -> bool:
    from pepflow.domain.enums import StaffRole
    from pepflow.store.allocations import OWNER_STAFF_ROLES

    if web.access.is_owner_task(task):
        return bool(set(staff.roles) & (OWNER_STAFF_ROLES | {StaffRole.TEAM_MANAGER}))
    return staff.candidate_group in task.candidate_groups and staff.team == child.locality
