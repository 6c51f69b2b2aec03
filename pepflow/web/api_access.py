"""API routes for who is allocated and who may act: a child's allocations (a team
manager allocates a worker; open tasks follow), the meeting venue's details (records
store, never a process variable), and the account lifecycle (administrators)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import Field

from pepflow.domain.enums import OwnerRole
from pepflow.handover import change_allocation
from pepflow.store.errors import RecordsError

from .accounts import AccountError
from .api import COMMON_RESPONSES, Model, _assignment_out, _jsonable, backend
from .security import Principal, allow, check_csrf

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_csrf)], responses=COMMON_RESPONSES)


# ------------------------------------------------------------------ allocations
class AllocationIn(Model):
    role: Literal["social-worker", "leaving-care-worker", "personal-adviser"]
    #: the staff member to allocate; null ends the role (nobody allocated)
    staff_id: str | None = Field(default=None, max_length=40)
    #: from when (default today); a later date plans a handover
    starts_on: date | None = None


@router.get("/children/{child_id}/allocations", tags=["allocations"])
def get_allocations(request: Request, child_id: str, principal: Principal = allow("pep:read")) -> dict[str, Any]:
    """Who is allocated to the child in each role, over time, and who owns the PEP today."""
    web = backend(request)
    child = web.child_for(principal, child_id)
    return {"childId": child.id, "allocations": _jsonable(web.store.allocations.for_child(child.id)),
            "owner": _assignment_out(web.allocation_state(child.id))}


@router.post("/children/{child_id}/allocations", tags=["allocations"])
async def allocate(request: Request, child_id: str, body: AllocationIn,
                   principal: Principal = allow("allocations:write")) -> dict[str, Any]:
    """Allocate a worker to the child (the team manager of the child's locality). The
    child's open PEP tasks follow at once, each move audited."""
    web = backend(request)
    child = web.child_for(principal, child_id)
    if not web.access.may_manage_child(principal, child):
        raise HTTPException(403, "only the team manager of the child's locality allocates workers")
    starts_on = body.starts_on or web.access.today()
    try:
        change_allocation(web.store, child.id, OwnerRole(body.role), body.staff_id, on=starts_on,
                          actor=principal.staff_id, reason="team manager (web)")
    except RecordsError as exc:
        raise HTTPException(422, str(exc)) from None
    moves = web.handover.follow([child.id], actor=principal.staff_id, reason=f"allocation changed by {principal.staff_id}")
    return {"childId": child.id, "owner": _assignment_out(web.allocation_state(child.id)),
            "movedTasks": [{"userTaskKey": m.user_task_key, "elementId": m.element_id, "assignee": list(m.assignee),
                            "candidateGroups": list(m.candidate_groups)} for m in moves]}


# ------------------------------------------------------------------ the meeting venue
class VenueIn(Model):
    details: str = Field(min_length=1, max_length=200)


@router.put("/peps/{pep_id}/meeting-venue", status_code=204, tags=["PEPs"])
async def put_meeting_venue(request: Request, pep_id: str, body: VenueIn,
                            principal: Principal = allow("pep:write")) -> Response:
    """The room or address of the PEP meeting: free text, so it is kept in the records
    store (audited), never in a process variable. The PEP's owner today (or, while
    nobody is allocated, the locality's team manager) records it."""
    web = backend(request)
    pep, child = web.pep_for(principal, pep_id)
    assignment = web.allocation_state(child.id)
    owner = assignment is not None and assignment.staff_id == principal.staff_id
    manager = principal.is_team_manager and child.locality == principal.team
    if not (owner or manager):
        raise HTTPException(403, "only the PEP's owner (by today's allocation) or the team manager records the venue")
    try:
        web.casework.record_venue_details(pep.id, body.details, actor=principal.staff_id)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return Response(status_code=204)


# ------------------------------------------------------------ comments on a send-back
class CommentsIn(Model):
    text: str = Field(min_length=1, max_length=2000)


@router.put("/peps/{pep_id}/return-comments", status_code=204, tags=["PEPs"])
async def put_return_comments(request: Request, pep_id: str, body: CommentsIn,
                              principal: Principal = allow("pep:write")) -> Response:
    """What the worker asks business support to change when sending a typed-up PEP back:
    free text, so it is kept in the records store (audited), not in the task."""
    from pepflow.review_notes import record_return_comments

    web = backend(request)
    pep, child = web.pep_for(principal, pep_id)
    assignment = web.allocation_state(child.id)
    owner = assignment is not None and assignment.staff_id == principal.staff_id
    manager = principal.is_team_manager and child.locality == principal.team
    if not (owner or manager):
        raise HTTPException(403, "only the PEP's owner (by today's allocation) or the team manager sends it back")
    try:
        record_return_comments(web.store, web.clock, pep.id, body.text, actor=principal.staff_id)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return Response(status_code=204)


# ------------------------------------------------------------------ accounts
def _account(web, user_id: int):
    account = web.accounts.get(user_id)
    if account is None:
        raise HTTPException(404, "no such account")
    return account


@router.post("/users/{user_id}/disable", status_code=204, tags=["accounts"])
async def disable_user(request: Request, user_id: int, principal: Principal = allow("accounts")) -> Response:
    """Disable an account: it cannot sign in, and its sessions end now."""
    web = backend(request)
    account = _account(web, user_id)
    if account.id == principal.user_id:
        raise HTTPException(409, "you cannot disable your own account")
    web.accounts.set_active(account.id, False)
    web.audit(principal.staff_id, "account", account.username, "disable", {"active": [True, False]})
    return Response(status_code=204)


@router.post("/users/{user_id}/enable", status_code=204, tags=["accounts"])
async def enable_user(request: Request, user_id: int, principal: Principal = allow("accounts")) -> Response:
    web = backend(request)
    account = _account(web, user_id)
    web.accounts.set_active(account.id, True)
    web.audit(principal.staff_id, "account", account.username, "enable", {"active": [account.active, True]})
    return Response(status_code=204)


@router.delete("/users/{user_id}/sessions", status_code=204, tags=["accounts"])
async def revoke_sessions(request: Request, user_id: int, principal: Principal = allow("accounts")) -> Response:
    """End every session of the account (e.g. a lost laptop)."""
    web = backend(request)
    account = _account(web, user_id)
    web.accounts.end_sessions(account.id)
    web.audit(principal.staff_id, "account", account.username, "revoke-sessions", {})
    return Response(status_code=204)


class ResetOut(Model):
    username: str
    code: str
    link: str
    expires_in_hours: int


@router.post("/users/{user_id}/password-reset", response_model=ResetOut, response_model_by_alias=True,
             tags=["accounts"])
async def issue_password_reset(request: Request, user_id: int, principal: Principal = allow("accounts")) -> ResetOut:
    """A one-time reset code (24 hours) for the account, shown once: give it to the
    person by another channel (phone, in person). Earlier codes stop working; the
    account's sessions end when the code is used."""
    web = backend(request)
    account = _account(web, user_id)
    try:
        code = web.accounts.issue_reset(account.id, created_by=principal.staff_id)
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from None
    web.audit(principal.staff_id, "account", account.username, "password-reset-issued", {})
    return ResetOut(username=account.username, code=code, link=f"/reset-password#{code}", expires_in_hours=24)
