"""Reassignment and cover (issue 14, point 1): a team manager or the PEP co-ordinator
gives one task to a named colleague, moves a worker's whole caseload, or records an
absence whose cover gets the absent worker's PEP tasks meanwhile. Each with a reason,
audited; the open tasks follow at once (:mod:`pepflow.handover`).

Scope is checked here, on the server, for every child touched: the PEP co-ordinator
acts for every child; a team manager for the children of their locality and the
workers of their team.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import Field

from pepflow.domain.enums import StaffRole
from pepflow.ownership import login_of
from pepflow.store.allocations import OWNER_STAFF_ROLES
from pepflow.store.errors import RecordsError

from .api import COMMON_RESPONSES, Model, UserTaskOut, backend, engine_call, task_out
from .fields import Checker, refuse
from .security import Principal, allow, check_csrf

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_csrf)], responses=COMMON_RESPONSES)

REASON_MAX = 500


def staff_out(staff) -> dict[str, Any]:
    return {"staffId": staff.id, "name": staff.name, "roles": [r.value for r in staff.roles], "team": staff.team,
            "candidateGroup": staff.candidate_group}


def _manages_staff(principal: Principal, staff) -> bool:
    if StaffRole.PEP_COORDINATOR in principal.roles:
        return True
    return principal.is_team_manager and bool(principal.team) and staff.team == principal.team


def _staff(web, staff_id: str | None, field: str, check: Checker, label: str):
    if not staff_id:
        check.add(field, f"Choose {label}")
        return None
    try:
        return web.store.staff(staff_id)
    except RecordsError:
        check.add(field, f"There is no staff member {staff_id}: choose {label} from the list")
        return None


@router.get("/colleagues", tags=["cover"])
def colleagues(request: Request, principal: Principal = allow("tasks:read")) -> list[dict[str, Any]]:
    """Staff by name, role and team: the people a task or a caseload can go to."""
    web = backend(request)
    return [staff_out(s) for s in web.store.all_staff()]


# ---------------------------------------------------------------- one task
class GiveTaskIn(Model):
    #: the colleague to give the task to; null gives it back (to the allocation, or the team's queue)
    staff_id: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=2000)


@router.post("/user-tasks/{user_task_key}/reassignment", response_model=UserTaskOut, response_model_by_alias=True,
             tags=["cover"])
async def give_task(request: Request, user_task_key: int, body: GiveTaskIn,
                    principal: Principal = allow("tasks:reassign")) -> UserTaskOut:
    """Give an open task to a named colleague, with the reason (audited). A PEP owner's
    task stays with them until completed or given back; a team task is claimed for them."""
    web = backend(request)
    task = web.task_for(principal, user_task_key)
    child = web.access._child(task)  # noqa: SLF001 - the task's child, read by the access rules
    if child is None or not web.access.may_reassign(principal, child):
        raise HTTPException(403, "only the PEP co-ordinator or the team manager of the child's locality gives tasks to colleagues")
    if task.state != "CREATED":
        raise HTTPException(409, "this task is already completed")
    check = Checker()
    reason = check.text("reason", body.reason, "the reason", max_length=REASON_MAX)
    staff = _staff(web, body.staff_id, "staffId", check, "a colleague") if body.staff_id else None
    pep_id = task.variables.get("pepId")
    entity = ("pep", pep_id) if pep_id else ("child", child.id)
    owner_task = web.access.is_owner_task(task)
    if staff is not None:
        if owner_task and not set(staff.roles) & (OWNER_STAFF_ROLES | {StaffRole.TEAM_MANAGER}):
            check.add("staffId", f"{staff.name} is not a caseworker or team manager: a PEP owner's task goes to one")
        if not owner_task and not (staff.candidate_group in task.candidate_groups and staff.team == child.locality):
            check.add("staffId", f"{staff.name} is not in this task's team ({', '.join(task.candidate_groups)})")
    check.done()
    if owner_task:
        if staff is None:
            web.store.cover.clear_task(user_task_key, actor=principal.staff_id, reason=reason, audit_entity=entity)
            web.handover.follow([child.id], actor=principal.staff_id, reason=f"given back: {reason}")
        else:
            web.store.cover.reassign_task(user_task_key, child.id, staff.id, reason=reason, actor=principal.staff_id,
                                          audit_entity=entity)
            engine_call(web.engine.reassign_user_task, user_task_key, assignee=login_of(web.store, staff.id),
                        candidate_groups=[])
    else:
        before = task.assignee
        if staff is None:
            engine_call(web.engine.unclaim, user_task_key)
        else:
            engine_call(web.engine.claim, user_task_key, login_of(web.store, staff.id), allow_override=True)
        web.audit(principal.staff_id, entity[0], entity[1], "task-given-to",
                  {"userTaskKey": user_task_key, "assignee": [before, login_of(web.store, staff.id) if staff else None],
                   "reason": [None, reason]})
    return task_out(web, principal, web.engine.user_task(user_task_key), web.child_names())


# ---------------------------------------------------------------- caseload
class CaseloadIn(Model):
    to_staff_id: str | None = Field(default=None, max_length=40)
    #: from when, as England writes it (DD/MM/YYYY) or ISO; empty: today
    starts_on: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=2000)


@router.post("/staff/{staff_id}/caseload-reassignment", tags=["cover"])
async def move_caseload(request: Request, staff_id: str, body: CaseloadIn,
                        principal: Principal = allow("tasks:reassign")) -> dict[str, Any]:
    """Allocate every child of ``staff_id`` (a team manager: of their locality) to another
    worker from a date, in the same role; all or nothing; open tasks follow."""
    web = backend(request)
    check = Checker()
    try:
        source = web.store.staff(staff_id)
    except RecordsError:
        raise HTTPException(404, f"no staff member {staff_id}") from None
    if not _manages_staff(principal, source):
        raise HTTPException(403, "only the PEP co-ordinator or the worker's team manager moves their caseload")
    target = _staff(web, body.to_staff_id, "toStaffId", check, "the worker who takes the caseload")
    today = web.access.today()
    starts_on = check.day("startsOn", body.starts_on, "the date the new worker starts", required=False) or today
    if "startsOn" not in check.errors and starts_on < today:
        check.add("startsOn", "The date the new worker starts cannot be in the past: tasks already done stay with "
                              "whoever did them. Enter today or a later date")
    reason = check.text("reason", body.reason, "the reason", max_length=REASON_MAX)
    if target is not None and target.id == source.id:
        check.add("toStaffId", "Choose a different worker from the one whose caseload moves")
    moving = []
    for child_id in sorted(web.store.allocations.children_of(source.id, starts_on)):
        child = web.store.child(child_id)
        if not web.access.may_reassign(principal, child):
            continue
        for allocation in web.store.allocations.current_for_child(child_id, starts_on):
            if allocation.staff_id == source.id:
                moving.append(allocation)
    if not moving and not check.errors:
        check.add("toStaffId", f"{source.name} has no children allocated on that date that you manage: nothing to move")
    if target is not None:
        missing = sorted({a.role.value for a in moving} - {r.value for r in target.roles})
        if missing:
            check.add("toStaffId", f"{target.name} does not hold the role{'s' if len(missing) > 1 else ''} "
                                   f"{', '.join(missing)} that {source.name}'s children need: choose a worker who does")
    check.done()
    try:
        with web.store.atomic():
            for allocation in moving:
                web.store.allocations.allocate(allocation.child_id, target.id, allocation.role, starts_on=starts_on,
                                               actor=principal.staff_id, reason=f"caseload of {source.id} moved: {reason}")
    except RecordsError as exc:
        raise refuse({"toStaffId": str(exc)}) from None
    children = sorted({a.child_id for a in moving})
    moves = web.handover.follow(children, actor=principal.staff_id, reason=f"caseload of {source.id} moved to {target.id}: {reason}")
    return {"children": children, "startsOn": starts_on.isoformat(), "movedTasks": len(moves)}


# ---------------------------------------------------------------- absences
class AbsenceIn(Model):
    cover_staff_id: str | None = Field(default=None, max_length=40)
    starts_on: str | None = Field(default=None, max_length=40)
    ends_on: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=2000)


class WithdrawIn(Model):
    reason: str | None = Field(default=None, max_length=2000)


def absence_out(web, a) -> dict[str, Any]:
    names = {s.id: s.name for s in web.store.all_staff()}
    return {"absenceId": a.id, "staffId": a.staff_id, "staffName": names.get(a.staff_id, a.staff_id),
            "coverStaffId": a.cover_staff_id, "coverName": names.get(a.cover_staff_id, a.cover_staff_id),
            "startsOn": a.starts_on.isoformat(), "endsOn": a.ends_on.isoformat(), "reason": a.reason,
            "recordedBy": a.created_by}


def visible_absences(web, principal: Principal) -> list:
    staff = {s.id: s for s in web.store.all_staff()}
    return [a for a in web.store.cover.absences(current_from=web.access.today())
            if a.staff_id in staff and _manages_staff(principal, staff[a.staff_id])]


@router.get("/absences", tags=["cover"])
def list_absences(request: Request, principal: Principal = allow("tasks:reassign")) -> list[dict[str, Any]]:
    """Absences running now or later, of the workers you manage."""
    web = backend(request)
    return [absence_out(web, a) for a in visible_absences(web, principal)]


@router.post("/staff/{staff_id}/absences", status_code=201, tags=["cover"])
async def add_absence(request: Request, staff_id: str, body: AbsenceIn,
                      principal: Principal = allow("tasks:reassign")) -> dict[str, Any]:
    """Record that ``staff_id`` is away: their children's PEP tasks (open and new) go to
    the covering colleague while it runs, and come back after."""
    web = backend(request)
    try:
        absent = web.store.staff(staff_id)
    except RecordsError:
        raise HTTPException(404, f"no staff member {staff_id}") from None
    if not _manages_staff(principal, absent):
        raise HTTPException(403, "only the PEP co-ordinator or the worker's team manager records their absence")
    check = Checker()
    cover = _staff(web, body.cover_staff_id, "coverStaffId", check, "the colleague who covers")
    starts_on = check.day("startsOn", body.starts_on, "the first day away")
    ends_on = check.day("endsOn", body.ends_on, "the last day away")
    reason = check.text("reason", body.reason, "the reason", max_length=REASON_MAX)
    check.done()
    try:
        absence = web.store.cover.add_absence(absent.id, cover.id, starts_on=starts_on, ends_on=ends_on, reason=reason,
                                              actor=principal.staff_id, today=web.access.today())
    except RecordsError as exc:
        field = "endsOn" if "end" in str(exc) or "longer" in str(exc) else "coverStaffId"
        raise refuse({field: str(exc)}) from None
    children = sorted(web.store.allocations.children_of(absent.id, max(starts_on, web.access.today())))
    moves = web.handover.follow(children, actor=principal.staff_id, reason=f"{absent.id} away, {cover.id} covers: {reason}")
    return {**absence_out(web, absence), "movedTasks": len(moves)}


@router.post("/absences/{absence_id}/withdrawal", tags=["cover"])
async def withdraw_absence(request: Request, absence_id: int, body: WithdrawIn,
                           principal: Principal = allow("tasks:reassign")) -> dict[str, Any]:
    """Withdraw an absence (back early, recorded by mistake): the tasks go back."""
    web = backend(request)
    absence = web.store.cover.absence(absence_id)
    if absence is None:
        raise HTTPException(404, f"no absence {absence_id}")
    if not _manages_staff(principal, web.store.staff(absence.staff_id)):
        raise HTTPException(403, "only the PEP co-ordinator or the worker's team manager withdraws their absence")
    check = Checker()
    reason = check.text("reason", body.reason, "the reason", max_length=REASON_MAX)
    check.done()
    web.store.cover.withdraw_absence(absence_id, actor=principal.staff_id, reason=reason)
    children = sorted(web.store.allocations.children_of(absence.staff_id, web.access.today()))
    moves = web.handover.follow(children, actor=principal.staff_id, reason=f"absence of {absence.staff_id} withdrawn: {reason}")
    return {"absenceId": absence_id, "movedTasks": len(moves)}
