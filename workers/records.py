"""Records: open, schedule, take in, complete and close PEPs (flowchart boxes 1, 3, 4, 7)."""


import asyncio
from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from pepflow.casework import Casework

from .errors import exception_handler

CREATE_PEP_RECORD = "create-pep-record"
SCHEDULE_PEP_DATES = "schedule-pep-dates"
TAKE_IN_SCHOOL_FORM = "take-in-school-form"
COMPLETE_PEP = "complete-pep"
SCHEDULE_SETTING_CHANGE_PEP = "schedule-setting-change-pep"
CLOSE_PEP_CASE = "close-pep-case"
CHECK_MEETING_DATES = "check-meeting-dates"
RECORD_PEP_MEETING = "record-pep-meeting"
UPDATE_PEP_STATUS = "update-pep-status"
RESCHEDULE_PEP_MEETING = "reschedule-pep-meeting"
CHECK_FINALISE = "check-finalise"
TASK_TYPES = (
    CREATE_PEP_RECORD, SCHEDULE_PEP_DATES, TAKE_IN_SCHOOL_FORM, COMPLETE_PEP,
    SCHEDULE_SETTING_CHANGE_PEP, CLOSE_PEP_CASE, CHECK_MEETING_DATES, RECORD_PEP_MEETING, UPDATE_PEP_STATUS,
    RESCHEDULE_PEP_MEETING, CHECK_FINALISE,
)


def _next_dates(nextMeetingDates: list[str] | None, nextPepDate1: str | None, nextPepDate2: str | None) -> list[str]:
    """The next PEP dates the record-pep-meeting form gave (its list, else its two fields)."""
    return list(nextMeetingDates or [d for d in (nextPepDate1, nextPepDate2) if d])


def build_router(casework: Casework) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter(exception_handler=exception_handler)

    # Record work is blocking database I/O: it runs in a thread, never on the loop.
    @router.task(task_type=CREATE_PEP_RECORD)
    async def create_pep_record(job: Job, childId: str, enteredCareOn: str | None = None, emergency: bool = False, careEpisodeId: str | None = None) -> dict[str, Any]:
        if job.custom_headers.get("mode") == "resume":  # a child already in care
            return await asyncio.to_thread(casework.resume_pep_cycle, childId)
        if not enteredCareOn:
            raise ValueError(f"{childId}: the start message needs enteredCareOn")
        return await asyncio.to_thread(casework.create_pep_record, childId, enteredCareOn, emergency, careEpisodeId)

    @router.task(task_type=SCHEDULE_PEP_DATES)
    async def schedule_pep_dates(pepId: str, isInitial: bool, meetingAt: str | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(casework.schedule_pep_dates, pepId, meetingAt, isInitial)

    @router.task(task_type=RESCHEDULE_PEP_MEETING)
    async def reschedule_pep_meeting(pepId: str, changedMeetingAt: str) -> dict[str, Any]:
        from pepflow.meeting_changes import reschedule_meeting

        return await asyncio.to_thread(reschedule_meeting, casework, pepId, changedMeetingAt)

    @router.task(task_type=TAKE_IN_SCHOOL_FORM)
    async def take_in_school_form(pepId: str, schoolReturnId: int | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(casework.take_in_school_form, pepId, schoolReturnId)

    @router.task(task_type=COMPLETE_PEP)
    async def complete_pep(pepId: str, nextMeetingDates: list[str] | None = None, nextPepDate1: str | None = None, nextPepDate2: str | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(casework.complete_pep, pepId, _next_dates(nextMeetingDates, nextPepDate1, nextPepDate2))

    @router.task(task_type=CHECK_MEETING_DATES)
    async def check_meeting_dates(pepId: str, job: Job, meetingAt: str | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(casework.check_meeting_dates, pepId, job.custom_headers["dates"], meetingAt)

    @router.task(task_type=RECORD_PEP_MEETING)
    async def record_pep_meeting(pepId: str, attendeeIds: list[str] | None = None, nextMeetingDates: list[str] | None = None, nextPepDate1: str | None = None, nextPepDate2: str | None = None) -> dict[str, Any]:
        dates = _next_dates(nextMeetingDates, nextPepDate1, nextPepDate2)
        return await asyncio.to_thread(casework.record_pep_meeting, pepId, attendeeIds or [], dates)

    @router.task(task_type=UPDATE_PEP_STATUS)
    async def update_pep_status(pepId: str, job: Job, returnReasonCode: str | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(casework.update_pep_status, pepId, job.custom_headers["status"], returnReasonCode)

    @router.task(task_type=CHECK_FINALISE)
    async def check_finalise(pepId: str) -> dict[str, Any]:
        return await asyncio.to_thread(casework.check_finalise, pepId)

    @router.task(task_type=SCHEDULE_SETTING_CHANGE_PEP)
    async def schedule_setting_change_pep(childId: str, settingChangedOn: str, pepId: str | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(casework.schedule_setting_change_pep, childId, pepId, settingChangedOn)

    @router.task(task_type=CLOSE_PEP_CASE)
    async def close_pep_case(childId: str, leftCareOn: str, pepId: str | None = None) -> dict[str, Any]:
        # the reason for leaving care is free text: it stays in the records store
        return await asyncio.to_thread(casework.close_pep_case, childId, pepId, leftCareOn)

    return router
