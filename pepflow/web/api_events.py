"""Council events from the web (issue 14, point 2), on the one events module the
process uses (:class:`pepflow.events.CouncilEvents`, as ``pep event`` does): a child
comes into care (planned or in an emergency), leaves care, changes school; a PEP
meeting is moved, cancelled or not held. The same checks as the CLI: a refusal comes
back in words against the field it is about (422 ``detail.fields``), nothing recorded.

Who records: a caseworker for the children allocated to them, business support and
the team manager for their locality's children, the PEP co-ordinator for any child.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import Field

from pepflow.events import EventRefused
from pepflow.store.errors import RecordsError, UnknownSetting

from .api import COMMON_RESPONSES, Model, backend
from .fields import Checker, refuse
from .security import Principal, allow, check_csrf

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_csrf)], responses=COMMON_RESPONSES)


def _outcome(outcome) -> dict[str, Any]:
    return {"summary": outcome.summary, "warnings": list(outcome.warnings), "eventId": outcome.event_id}


def _refused(field: str, exc: Exception) -> HTTPException:
    return refuse({field: str(exc)})


class LookedAfterIn(Model):
    #: the day the child came into care (DD/MM/YYYY or ISO)
    entered_on: str | None = Field(default=None, max_length=40)
    kind: Literal["planned", "emergency"] | None = None


@router.post("/children/{child_id}/events/looked-after", tags=["events"])
async def record_looked_after(request: Request, child_id: str, body: LookedAfterIn,
                              principal: Principal = allow("events:write")) -> dict[str, Any]:
    """A child comes into care (1a planned, 1b emergency): the initial PEP starts."""
    web = backend(request)
    child = web.child_for(principal, child_id)
    check = Checker()
    entered = check.day("enteredOn", body.entered_on, "the date they came into care")
    if body.kind is None:
        check.add("kind", "Choose whether the entry into care was planned or an emergency")
    check.done()
    try:
        outcome = web.events.looked_after(child.id, entered, emergency=body.kind == "emergency",
                                          actor=principal.staff_id)
    except (EventRefused, RecordsError) as exc:
        raise _refused("enteredOn", exc) from None
    return _outcome(outcome)


class LeftCareIn(Model):
    left_on: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=2000)


@router.post("/children/{child_id}/events/left-care", tags=["events"])
async def record_left_care(request: Request, child_id: str, body: LeftCareIn,
                           principal: Principal = allow("events:write")) -> dict[str, Any]:
    """The child left care: the PEP cycle ends; nothing more is sent."""
    web = backend(request)
    child = web.child_for(principal, child_id)
    check = Checker()
    left = check.day("leftOn", body.left_on, "the date they left care")
    reason = check.text("reason", body.reason, "why they left care (for example, returned home)", max_length=500)
    check.done()
    try:
        outcome = web.events.left_care(child.id, left, reason=reason, actor=principal.staff_id)
    except (EventRefused, RecordsError) as exc:
        raise _refused("leftOn", exc) from None
    return _outcome(outcome)


class SettingChangedIn(Model):
    setting_id: str | None = Field(default=None, max_length=40)
    changed_on: str | None = Field(default=None, max_length=40)


@router.post("/children/{child_id}/events/setting-changed", tags=["events"])
async def record_setting_changed(request: Request, child_id: str, body: SettingChangedIn,
                                 principal: Principal = allow("events:write")) -> dict[str, Any]:
    """A change of school: a new PEP at the new setting within 10 working days."""
    web = backend(request)
    child = web.child_for(principal, child_id)
    check = Checker()
    if not body.setting_id:
        check.add("settingId", "Choose the new school or setting")
    changed = check.day("changedOn", body.changed_on, "the first day at the new school")
    check.done()
    try:
        outcome = web.events.setting_changed(child.id, body.setting_id, changed, actor=principal.staff_id)
    except UnknownSetting as exc:
        raise _refused("settingId", exc) from None
    except (EventRefused, RecordsError) as exc:
        text = str(exc)
        field = "settingId" if ("already attends" in text or "starting at" in text) else "changedOn"
        raise _refused(field, exc) from None
    return _outcome(outcome)


class MeetingChangedIn(Model):
    #: moved, cancelled or not-held
    change: Literal["moved", "cancelled", "not-held"] | None = None
    #: what happens next: the day it is rearranged for (DD/MM/YYYY or ISO) and the time (HH:MM, 24-hour)
    new_date: str | None = Field(default=None, max_length=40)
    new_time: str | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, max_length=2000)


def _time(check: Checker, field: str, text: str | None):
    """A time of day as HH:MM (24-hour), never rounded: 09:05 stays 09:05."""
    import re
    from datetime import time

    value = (text or "").strip()
    if not value:
        check.add(field, "Enter the time of the rearranged meeting, for example 14:30")
        return None
    match = re.fullmatch(r"(\d{1,2})[:.](\d{2})", value)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        check.add(field, f"{value} is not a time of day: enter it as hours and minutes, for example 14:30")
        return None
    return time(int(match.group(1)), int(match.group(2)))


@router.post("/peps/{pep_id}/events/meeting-changed", tags=["events"])
async def record_meeting_changed(request: Request, pep_id: str, body: MeetingChangedIn,
                                 principal: Principal = allow("events:write")) -> dict[str, Any]:
    """The arranged meeting was moved, cancelled or not held, and is rearranged for a
    new date and time: "Record PEP meeting" comes at the new time, not the old one."""
    from pepflow.casework import at_local

    web = backend(request)
    pep, _child = web.pep_for(principal, pep_id)
    check = Checker()
    if body.change is None:
        check.add("change", "Choose what happened to the meeting")
    day = check.day("newDate", body.new_date, "the date it is rearranged for")
    at = _time(check, "newTime", body.new_time)
    reason = check.text("reason", body.reason, "why the meeting changed", max_length=500)
    check.done()
    try:
        outcome = web.events.meeting_changed(pep.id, body.change, at_local(day, at.hour, at.minute), reason=reason,
                                             actor=principal.staff_id)
    except (EventRefused, RecordsError) as exc:
        text = str(exc)
        field = "change" if ("not happened yet" in text or "recorded as held" in text or "is final" in text
                             or "cancelled:" in text) else "newDate"
        raise _refused(field, exc) from None
    return _outcome(outcome)
