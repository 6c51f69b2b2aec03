"""Secure mail: documents to settings and attendees, notices to the Virtual School and
the PEP co-ordinator, reminders and escalations (boxes 1, 2, 3, 4 and 6)."""


from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from pepflow.casework import Casework

from .errors import exception_handler

SEND_SECURE_EMAIL = "send-secure-email"
NOTIFY_VIRTUAL_SCHOOL = "notify-virtual-school"
INFORM_PEP_COORDINATOR = "inform-pep-coordinator"
SEND_REMINDER = "send-reminder"
ESCALATE_OVERDUE = "escalate-overdue"
TASK_TYPES = (SEND_SECURE_EMAIL, NOTIFY_VIRTUAL_SCHOOL, INFORM_PEP_COORDINATOR, SEND_REMINDER, ESCALATE_OVERDUE)

MAIL_TIMEOUT_MS = 120_000


def build_router(casework: Casework) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter(exception_handler=exception_handler)

    @router.task(task_type=SEND_SECURE_EMAIL, timeout_ms=MAIL_TIMEOUT_MS)
    async def send_secure_email(pepId: str, job: Job, attendeeId: str | None = None) -> dict[str, Any]:
        headers = job.custom_headers
        return await casework.send_secure_email(pepId, headers["template"], headers["to"], attendeeId)

    @router.task(task_type=NOTIFY_VIRTUAL_SCHOOL, timeout_ms=MAIL_TIMEOUT_MS)
    async def notify_virtual_school(pepId: str, enteredCareOn: str, initialMeetingDueAt: str, emergency: bool = False) -> dict[str, Any]:
        return await casework.notify_virtual_school(pepId, enteredCareOn, emergency, initialMeetingDueAt)

    @router.task(task_type=INFORM_PEP_COORDINATOR, timeout_ms=MAIL_TIMEOUT_MS)
    async def inform_pep_coordinator(pepId: str, meetingAt: str, venue: str, inviteeIds: list[str] | None = None) -> dict[str, Any]:
        return await casework.inform_pep_coordinator(pepId, meetingAt, venue, inviteeIds or [])

    @router.task(task_type=SEND_REMINDER, timeout_ms=MAIL_TIMEOUT_MS)
    async def send_reminder(pepId: str, job: Job) -> dict[str, Any]:
        return await casework.send_reminder(pepId, job.custom_headers["reminder"])

    @router.task(task_type=ESCALATE_OVERDUE, timeout_ms=MAIL_TIMEOUT_MS)
    async def escalate_overdue(pepId: str, initialMeetingDueAt: str) -> dict[str, Any]:
        return await casework.escalate_overdue(pepId, initialMeetingDueAt)

    return router
