"""The JSON API (``/api/v1``); names follow Camunda's (userTaskKey, assignee,
candidateGroups, dueDate, followUpDate). The pages call it; the OpenAPI document
is at ``/api/v1/openapi.json`` and the reference at ``/api/v1/docs``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from pepflow.documents import DocumentRejected
from pepflow.engine.errors import InvalidState, InvalidVariables, NotFound
from pepflow.events import EventRefused
from pepflow.engine.views import UserTask

from .accounts import AccountError
from .security import Principal, allow, check_csrf
from .service import WebBackend

class Problem(BaseModel):
    """An error: what went wrong, in one line a person can act on."""

    detail: Any


# What any route may answer besides success, documented once for every route so that
# clients (and schemathesis) know them.
_PROBLEM_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    # errors are JSON on every route, also on those that answer text, CSV or a file
    code: {"model": Problem, "description": description, "content": _PROBLEM_JSON}
    for code, description in (
        (401, "Not signed in"),
        (403, "Signed in, but this role may not do this (or the CSRF token is missing)"),
        (404, "No such task, PEP, child, instance or document (or not in your caseload)"),
        (409, "The task or instance is not in a state that allows this"),
        # refused values: FastAPI's own per-parameter list, or the product's checks
        # (pepflow/web/fields.py: a message and the reason for each field, in words)
        (422, "A value was refused: `detail` says which and why"),
    )
}

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_csrf)], responses=COMMON_RESPONSES)


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class UserTaskOut(Model):
    user_task_key: int
    process_instance_key: int
    bpmn_process_id: str
    element_id: str
    name: str | None
    form_id: str | None
    assignee: str | None
    candidate_groups: list[str]
    candidate_users: list[str]
    due_date: datetime | None
    follow_up_date: datetime | None
    creation_date: datetime
    state: str
    child_id: str | None = None
    child_name: str | None = None
    pep_id: str | None = None
    #: names in words: who has it, which team's queue it is in, who completed it
    assignee_name: str | None = None
    candidate_group_names: list[str] = Field(default_factory=list)
    completion_date: datetime | None = None
    completed_by_name: str | None = None
    overdue: bool = False
    can_claim: bool = False
    can_unclaim: bool = False
    can_complete: bool = False


class TaskPage(Model):
    queue: str
    total: int
    page: int
    page_size: int
    items: list[UserTaskOut]


class FormOut(Model):
    user_task_key: int
    form_id: str
    schema_: dict[str, Any] = Field(alias="schema")
    data: dict[str, Any]
    draft_saved_at: datetime | None = None


class Variables(Model):
    variables: dict[str, Any] = Field(default_factory=dict)


class DraftOut(Model):
    user_task_key: int
    variables: dict[str, Any]
    saved_at: datetime | None


class Assignment(Model):
    assignee: str | None = None  # ignored: you claim for yourself


class MeOut(Model):
    username: str
    staff_id: str
    name: str
    roles: list[str]
    candidate_groups: list[str]
    team: str | None


class AccountIn(Model):
    username: str = Field(min_length=1, max_length=200)
    password: str | None = Field(default=None, max_length=1000)
    staff_id: str | None = Field(default=None, max_length=64)


class AccountOut(Model):
    id: int
    username: str
    staff_id: str | None
    roles: list[str]
    active: bool
    locked_until: datetime | None
    last_sign_in_at: datetime | None


def backend(request: Request) -> WebBackend:
    return request.app.state.web.backend


def task_out(web: WebBackend, principal: Principal, task: UserTask, names: dict[str, str] | None = None) -> UserTaskOut:
    child_id = task.variables.get("childId")
    work = web.access.may_work_task(principal, task)
    people = web.people()
    return UserTaskOut(
        user_task_key=task.user_task_key, process_instance_key=task.process_instance_key,
        bpmn_process_id=task.bpmn_process_id, element_id=task.element_id, name=task.name, form_id=task.form_id,
        assignee=task.assignee, candidate_groups=task.candidate_groups, candidate_users=task.candidate_users,
        due_date=task.due_date, follow_up_date=task.follow_up_date, creation_date=task.created_at, state=task.state,
        child_id=child_id, child_name=(names or {}).get(child_id) if child_id else None,
        pep_id=task.variables.get("pepId"),
        assignee_name=people.get(task.assignee, task.assignee) if task.assignee else None,
        candidate_group_names=[people.get(g, g) for g in task.candidate_groups],
        completion_date=task.completed_at,
        completed_by_name=people.get(task.completed_by, task.completed_by) if task.completed_by else None,
        overdue=task.state == "CREATED" and bool(task.due_date and task.due_date < web.now()),
        can_claim=work and task.assignee is None and bool(principal.login),
        can_unclaim=work and principal.is_assignee(task) and bool(task.candidate_groups),
        can_complete=work and (principal.is_assignee(task) or web.access.completes_as_owner(principal, task)),
    )


def engine_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except InvalidVariables as exc:
        raise HTTPException(422, {"message": str(exc), "problems": exc.problems}) from None
    except InvalidState as exc:
        raise HTTPException(409, str(exc)) from None


# ------------------------------------------------------------------------ me
@router.get("/me", response_model=MeOut, tags=["session"])
def me(principal: Principal = allow("signed-in")) -> MeOut:
    return MeOut(username=principal.username, staff_id=principal.staff_id, name=principal.name,
                 roles=sorted(principal.roles), candidate_groups=principal.candidate_groups, team=principal.team)


# ------------------------------------------------------------------- tasks
@router.get("/user-tasks", response_model=TaskPage, response_model_by_alias=True, tags=["user tasks"])
def search_user_tasks(
    request: Request,
    queue: Literal["mine", "team", "claimed", "done", "all"] | None = None,
    child_ref: str | None = Query(default=None, alias="childRef", max_length=80,
                                  description="a child or PEP reference, or words of a child's name"),
    element_id: str | None = Query(default=None, alias="elementId", max_length=200),
    due_before: str | None = Query(default=None, alias="dueBefore", max_length=40,
                                   description="a day: DD/MM/YYYY (as England writes it) or YYYY-MM-DD"),
    due_after: str | None = Query(default=None, alias="dueAfter", max_length=40,
                                  description="a day: DD/MM/YYYY or YYYY-MM-DD"),
    overdue: bool | None = None,
    order: Literal["asc", "desc"] = "asc",
    page: int = Query(default=1, ge=1, le=100_000),
    page_size: int = Query(default=50, ge=1, le=200, alias="pageSize"),
    principal: Principal = allow("tasks:read"),
) -> TaskPage:
    from .fields import Checker

    web = backend(request)
    check = Checker()
    before = check.day("dueBefore", due_before, "the due-by date", required=False)
    after = check.day("dueAfter", due_after, "the due-from date", required=False)
    check.done()
    queue, total, tasks = web.list_tasks(
        principal, queue=queue, child_ref=child_ref, element_id=element_id, due_before=before,
        due_after=after, overdue=overdue, descending=order == "desc", page=page, page_size=page_size,
    )
    names = web.child_names() if tasks else {}
    return TaskPage(queue=queue, total=total, page=page, page_size=page_size,
                    items=[task_out(web, principal, t, names) for t in tasks])


@router.get("/user-tasks/{user_task_key}", response_model=UserTaskOut, response_model_by_alias=True, tags=["user tasks"])
def get_user_task(request: Request, user_task_key: int, principal: Principal = allow("tasks:read")) -> UserTaskOut:
    web = backend(request)
    task = web.task_for(principal, user_task_key)
    return task_out(web, principal, task, web.child_names())


@router.get("/user-tasks/{user_task_key}/form", response_model=FormOut, response_model_by_alias=True, tags=["user tasks"])
def get_user_task_form(request: Request, user_task_key: int, principal: Principal = allow("tasks:read")) -> FormOut:
    """The task's Camunda Form and the data it opens with: the task's variables,
    then the caller's saved draft on top."""
    web = backend(request)
    task = web.task_for(principal, user_task_key)
    if not task.form_id:
        raise HTTPException(404, "this task has no form")
    schema = engine_call(web.engine.form, task.form_id).schema
    data = dict(task.variables)
    data.pop("data_objects", None)
    fields, option_keys = _form_keys(schema)
    if option_keys:  # option lists as the process holds them now (a contact added since shows up)
        try:
            live = web.engine.instance(task.process_instance_key).variables
        except NotFound:
            live = {}
        data.update({k: live[k] for k in option_keys if k in live})
    draft = web.accounts.draft(user_task_key, principal.staff_id)
    if draft:
        # a draft holds what the person typed, never the form's option lists
        data.update({k: v for k, v in draft[0].items() if k in fields and k not in option_keys})
    if isinstance(data.get("contactOptions"), list):
        data["contactOptions"] = web.shown_options(data["contactOptions"])
    pep_id = task.variables.get("pepId")
    web.audit(principal.staff_id, "pep" if pep_id else "user-task", pep_id or str(user_task_key),
              f"view-task:{task.element_id}", {"userTaskKey": user_task_key})
    return FormOut(user_task_key=user_task_key, form_id=task.form_id, schema=schema, data=data,
                   draft_saved_at=draft[1] if draft else None)


def _form_keys(schema: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The keys a form's fields submit, and the variables its option lists come from."""
    fields: set[str] = set()
    options: set[str] = set()

    def walk(components):
        for c in components or []:
            if c.get("key"):
                fields.add(c["key"])
            if c.get("valuesKey"):
                options.add(c["valuesKey"])
            walk(c.get("components"))

    walk(schema.get("components"))
    return fields, options


@router.post("/user-tasks/{user_task_key}/assignment", response_model=UserTaskOut, response_model_by_alias=True, tags=["user tasks"])
async def claim_user_task(request: Request, user_task_key: int, principal: Principal = allow("tasks:work")) -> UserTaskOut:
    """Claim the task for yourself (Camunda: assign)."""
    web = backend(request)
    task = web.task_for(principal, user_task_key)
    if not web.access.may_work_task(principal, task) or not principal.login:
        raise HTTPException(403, "you cannot claim this task")
    task = engine_call(web.engine.claim, user_task_key, principal.login)
    web.audit(principal.staff_id, "user-task", str(user_task_key), "claim", {"assignee": [None, principal.login]})
    return task_out(web, principal, task, web.child_names())


@router.delete("/user-tasks/{user_task_key}/assignee", response_model=UserTaskOut, response_model_by_alias=True, tags=["user tasks"])
async def unclaim_user_task(request: Request, user_task_key: int, principal: Principal = allow("tasks:work")) -> UserTaskOut:
    """Give the task back to the team's queue (only tasks with candidate groups)."""
    web = backend(request)
    task = web.task_for(principal, user_task_key)
    if not principal.is_assignee(task) or not task.candidate_groups:
        raise HTTPException(403, "you can unclaim only a team task you have claimed")
    task = engine_call(web.engine.unclaim, user_task_key)
    web.audit(principal.staff_id, "user-task", str(user_task_key), "unclaim", {"assignee": [principal.login, None]})
    return task_out(web, principal, task, web.child_names())


@router.post("/user-tasks/{user_task_key}/completion", status_code=204, tags=["user tasks"])
async def complete_user_task(request: Request, user_task_key: int, body: Variables, principal: Principal = allow("tasks:work")) -> Response:
    """Complete the task with the values of its form: the engine accepts exactly the
    form's fields, each checked against the form (and nothing the process set)."""
    web = backend(request)
    task = web.task_for(principal, user_task_key)
    if not web.access.may_work_task(principal, task):
        raise HTTPException(403, "this task is not yours to complete (it follows the child's allocation)")
    if not principal.is_assignee(task):
        if not web.access.completes_as_owner(principal, task):
            raise HTTPException(403, "claim the task before completing it")
        # the owner by today's allocation, before the task caught up: it moves to them first
        engine_call(web.engine.check_submission, task.bpmn_process_id, task.form_id, task.variables,
                    body.variables, web.now())  # refused values leave the task where it was
        engine_call(web.engine.claim, user_task_key, principal.login, allow_override=True)
        web.audit(principal.staff_id, "pep" if task.variables.get("pepId") else "user-task",
                  task.variables.get("pepId") or str(user_task_key), "task-reassigned",
                  {"userTaskKey": user_task_key, "assignee": [task.assignee, principal.login],
                   "reason": "completed by the worker allocated today"})
    if task.element_id == "ReviewReturnedFormTask" and task.variables.get("schoolReturnId"):
        # the decision is recorded as this person's (the step after the task finds it made)
        engine_call(web.engine.check_submission, task.bpmn_process_id, task.form_id, task.variables,
                    body.variables, web.now())
        web.casework.returns.decide_in_process(
            int(task.variables["schoolReturnId"]), str(body.variables.get("reviewDecision")),
            body.variables.get("queryReasonCode"), actor=principal.staff_id,
        )
    engine_call(web.engine.complete_user_task, user_task_key, body.variables, actor=principal.staff_id)
    web.accounts.delete_drafts(user_task_key)
    pep_id = task.variables.get("pepId")
    web.audit(principal.staff_id, "pep" if pep_id else "user-task", pep_id or str(user_task_key),
              f"complete-task:{task.element_id}", {"userTaskKey": user_task_key, "variables": [None, body.variables]})
    return Response(status_code=204)


@router.get("/user-tasks/{user_task_key}/draft", response_model=DraftOut, response_model_by_alias=True, tags=["drafts"])
def get_draft(request: Request, user_task_key: int, principal: Principal = allow("tasks:work")) -> DraftOut:
    web = backend(request)
    web.task_for(principal, user_task_key)
    draft = web.accounts.draft(user_task_key, principal.staff_id)
    if draft is None:
        raise HTTPException(404, "no draft saved")
    return DraftOut(user_task_key=user_task_key, variables=draft[0], saved_at=draft[1])


@router.put("/user-tasks/{user_task_key}/draft", response_model=DraftOut, response_model_by_alias=True, tags=["drafts"])
async def save_draft(request: Request, user_task_key: int, body: Variables, principal: Principal = allow("tasks:work")) -> DraftOut:
    web = backend(request)
    task = web.task_for(principal, user_task_key)
    if task.state != "CREATED":
        who = web.people().get(task.completed_by or "", task.completed_by or "someone")
        raise HTTPException(409, f"this task was already completed by {who}: your draft was not saved")
    if not web.access.may_work_task(principal, task):
        raise HTTPException(403, "you cannot work on this task")
    # a draft holds the form's fields only, each of its type (required ones may wait)
    engine_call(web.engine.check_submission, task.bpmn_process_id, task.form_id, task.variables, body.variables,
                web.now(), partial=True)
    try:
        saved = web.accounts.save_draft(user_task_key, principal.staff_id, body.variables)
    except AccountError as exc:
        raise HTTPException(413, str(exc)) from None
    pep_id = task.variables.get("pepId")
    web.audit(principal.staff_id, "pep" if pep_id else "user-task", pep_id or str(user_task_key),
              "save-draft", {"userTaskKey": user_task_key})
    return DraftOut(user_task_key=user_task_key, variables=body.variables, saved_at=saved)


@router.delete("/user-tasks/{user_task_key}/draft", status_code=204, tags=["drafts"])
async def delete_draft(request: Request, user_task_key: int, principal: Principal = allow("tasks:work")) -> Response:
    web = backend(request)
    web.task_for(principal, user_task_key)
    web.accounts.delete_drafts(user_task_key, principal.staff_id)
    return Response(status_code=204)


# -------------------------------------------------------------------- PEPs
def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json", exclude={"content"})
    if isinstance(obj, list):
        return [_jsonable(x) for x in obj]
    return obj


@router.get("/peps/{pep_id}", tags=["PEPs"])
def get_pep(request: Request, pep_id: str, principal: Principal = allow("pep:read")) -> dict[str, Any]:
    """A PEP: status and dates, documents, the school's return and what was read from
    it, the mail sent and its status, and the history (audit log)."""
    web = backend(request)
    d = web.pep_details(principal, pep_id)
    names = web.child_names()
    return {
        "pep": _jsonable(d["pep"]),
        "child": {"childId": d["child"].id, "name": d["child"].full_name, "locality": d["child"].locality},
        "documents": _jsonable(d["documents"]),
        "schoolReturn": d["schoolReturn"],
        "mail": _jsonable(d["mail"]),
        "history": _jsonable(d["history"]),
        "openTasks": [task_out(web, principal, t, names).model_dump(mode="json", by_alias=True) for t in d["openTasks"]],
    }


@router.get("/peps/{pep_id}/documents/{document_id}", tags=["PEPs"], response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def download_document(request: Request, pep_id: str, document_id: int, principal: Principal = allow("pep:read")) -> Response:
    web = backend(request)
    pep, _child = web.pep_for(principal, pep_id)
    doc = next((d for d in web.store.documents(pep.id) if d.id == document_id), None)
    if doc is None:
        raise HTTPException(404, "no such document for this PEP")
    content = web.store.document_content(doc.id)
    web.audit(principal.staff_id, "pep", pep.id, "download-document", {"documentId": doc.id, "kind": doc.kind.value})
    safe = "".join(c for c in doc.filename if c.isalnum() or c in "-_.") or "document.docx"
    return Response(content, media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"', "Cache-Control": "no-store"})


MAX_UPLOAD = 10 * 1024 * 1024


@router.post("/peps/{pep_id}/school-form", tags=["PEPs"])
async def upload_school_form(request: Request, pep_id: str, file: UploadFile = File(...),
                             principal: Principal = allow("pep:upload")) -> dict[str, Any]:
    """A returned school form (.docx): checked, kept, read, and the process told."""
    web = backend(request)
    pep, _child = web.pep_for(principal, pep_id)
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise HTTPException(413, "the file is larger than 10 MB")
    if not data:
        raise HTTPException(422, "the file is empty")
    try:
        outcome = web.events.form_returned(pep.id, data, actor=principal.staff_id)
    except DocumentRejected as exc:
        raise HTTPException(422, f"the form was not accepted: {exc}") from None
    except EventRefused as exc:
        raise HTTPException(409, str(exc)) from None
    return {**outcome.details, "summary": outcome.summary, "warnings": list(outcome.warnings),
            "correlatedInstances": list(outcome.correlated_instances)}


@router.get("/children/{child_id}", tags=["PEPs"])
def get_child(request: Request, child_id: str, principal: Principal = allow("pep:read")) -> dict[str, Any]:
    web = backend(request)
    d = web.child_details(principal, child_id)
    c = d["child"]
    return {"childId": c.id, "name": c.full_name, "dateOfBirth": c.date_of_birth.isoformat(), "locality": c.locality,
            "allocations": _jsonable(d["allocations"]), "owner": _assignment_out(d["assignment"]),
            "peps": _jsonable(d["peps"]), "careEpisodes": _jsonable(d["episodes"])}


def _assignment_out(assignment) -> dict[str, Any] | None:
    if assignment is None:
        return None
    return {"role": assignment.role.value, "staffId": assignment.staff_id, "assignee": assignment.assignee or None,
            "candidateGroups": list(assignment.candidate_groups), "note": assignment.note}


# ---------------------------------------------------------------- accounts
def account_out(web: WebBackend, a) -> AccountOut:
    roles = set(a.extra_roles)
    if a.staff_id:
        try:
            roles |= {r.value for r in web.store.staff(a.staff_id).roles}
        except LookupError:
            pass
    return AccountOut(id=a.id, username=a.username, staff_id=a.staff_id, roles=sorted(roles), active=a.active,
                      locked_until=a.locked_until, last_sign_in_at=a.last_sign_in_at)


@router.get("/users", response_model=list[AccountOut], response_model_by_alias=True, tags=["accounts"])
def list_users(request: Request, principal: Principal = allow("accounts")) -> list[AccountOut]:
    web = backend(request)
    return [account_out(web, a) for a in web.accounts.all()]


@router.post("/users", response_model=AccountOut, response_model_by_alias=True, status_code=201, tags=["accounts"])
async def create_user(request: Request, body: AccountIn, principal: Principal = allow("accounts")) -> AccountOut:
    web = backend(request)
    if body.staff_id:
        try:
            web.store.staff(body.staff_id)
        except LookupError:
            raise HTTPException(422, f"no staff record {body.staff_id}") from None
    try:
        account = web.accounts.add(body.username, password=body.password, staff_id=body.staff_id)
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from None
    web.audit(principal.staff_id, "account", account.username, "create", {"staffId": [None, body.staff_id]})
    return account_out(web, account)


@router.post("/users/{user_id}/unlock", status_code=204, tags=["accounts"])
async def unlock_user(request: Request, user_id: int, principal: Principal = allow("accounts")) -> Response:
    web = backend(request)
    account = web.accounts.get(user_id)
    if account is None:
        raise HTTPException(404, "no such account")
    web.accounts.unlock(user_id)
    web.audit(principal.staff_id, "account", account.username, "unlock", {})
    return Response(status_code=204)
