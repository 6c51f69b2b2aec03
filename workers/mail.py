"""Secure mail: documents to settings and attendees, notices to the Virtual School and
the PEP co-ordinator, reminders and escalations (boxes 1, 2, 3, 4 and 6).

Each step only queues its messages in the outbox (``Casework.mail.queue``) and completes;
the outbox sender delivers them, so a slow or unreachable mail relay never holds up
or fails a job, and a retried job queues nothing twice. When the casework has no
sender of its own running (a bare worker, the process tests), the handler asks the
casework's sender to deliver what is due right after the step; a delivery problem is
recorded on the message, never on the job.
"""


import logging
from collections.abc import Awaitable
from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from pepflow.casework import Casework
from pepflow.escalation import kind as escalation_kind
from pepflow.mail.outbox import JobRef, current_job

from .errors import exception_handler

log = logging.getLogger(__name__)

SEND_SECURE_EMAIL = "send-secure-email"
NOTIFY_VIRTUAL_SCHOOL = "notify-virtual-school"
INFORM_PEP_COORDINATOR = "inform-pep-coordinator"
SEND_REMINDER = "send-reminder"
ESCALATE_OVERDUE = "escalate-overdue"
DECIDE_SCHOOL_RETURN = "decide-school-return"
TASK_TYPES = (SEND_SECURE_EMAIL, NOTIFY_VIRTUAL_SCHOOL, INFORM_PEP_COORDINATOR, SEND_REMINDER, ESCALATE_OVERDUE, DECIDE_SCHOOL_RETURN)

MAIL_TIMEOUT_MS = 120_000


async def _queue_then_deliver(casework: Casework, job: Job, step: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    token = current_job.set(JobRef(job.process_instance_key, job.element_id))
    try:
        result = await step
    finally:
        current_job.reset(token)
    if casework.deliver_after_steps:
        try:
            await casework.sender.flush()
        except Exception:  # the messages stay queued; the job has done its part
            log.exception("%s: delivering the queued mail failed; it stays queued", job.element_id)
    return result


def build_router(casework: Casework) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter(exception_handler=exception_handler)

    @router.task(task_type=SEND_SECURE_EMAIL, timeout_ms=MAIL_TIMEOUT_MS)
    async def send_secure_email(pepId: str, job: Job, attendeeId: str | None = None) -> dict[str, Any]:
        headers = job.custom_headers
        return await _queue_then_deliver(
            casework, job, casework.send_secure_email(pepId, headers["template"], headers["to"], attendeeId)
        )

    @router.task(task_type=NOTIFY_VIRTUAL_SCHOOL, timeout_ms=MAIL_TIMEOUT_MS)
    async def notify_virtual_school(pepId: str, enteredCareOn: str, initialMeetingDueAt: str, job: Job, emergency: bool = False) -> dict[str, Any]:
        return await _queue_then_deliver(
            casework, job, casework.notify_virtual_school(pepId, enteredCareOn, emergency, initialMeetingDueAt)
        )

    @router.task(task_type=INFORM_PEP_COORDINATOR, timeout_ms=MAIL_TIMEOUT_MS)
    async def inform_pep_coordinator(pepId: str, meetingAt: str, venueCode: str, job: Job, inviteeIds: list[str] | None = None) -> dict[str, Any]:
        return await _queue_then_deliver(
            casework, job, casework.inform_pep_coordinator(pepId, meetingAt, venueCode, inviteeIds or [])
        )

    @router.task(task_type=SEND_REMINDER, timeout_ms=MAIL_TIMEOUT_MS)
    async def send_reminder(pepId: str, job: Job) -> dict[str, Any]:
        return await _queue_then_deliver(casework, job, casework.send_reminder(pepId, job.custom_headers["reminder"]))

    @router.task(task_type=ESCALATE_OVERDUE, timeout_ms=MAIL_TIMEOUT_MS)
    async def escalate_overdue(
        pepId: str, job: Job, initialMeetingDueAt: str | None = None, swPartEscalateAt: str | None = None,
        swPartDueAt: str | None = None, meetingRecordDueAt: str | None = None, finaliseDueAt: str | None = None,
    ) -> dict[str, Any]:
        # the header names the late step; its deadline is the variable its timer waited on
        # (declared as parameters: on Camunda 8 a job fetches only the variables named here)
        what = escalation_kind(job.custom_headers.get("escalation", "initial-meeting"))
        deadlines = {
            "initialMeetingDueAt": initialMeetingDueAt, "swPartEscalateAt": swPartEscalateAt, "swPartDueAt": swPartDueAt,
            "meetingRecordDueAt": meetingRecordDueAt, "finaliseDueAt": finaliseDueAt,
        }
        raised_at, due_at = deadlines[what.variable], deadlines[what.deadline_variable]
        if not raised_at or not due_at:
            raise ValueError(f"{job.element_id}: the escalation {what.code!r} needs {what.variable} and {what.deadline_variable}")
        return await _queue_then_deliver(casework, job, casework.escalate_overdue(pepId, what.code, raised_at, due_at))

    @router.task(task_type=DECIDE_SCHOOL_RETURN, timeout_ms=MAIL_TIMEOUT_MS)
    async def decide_school_return(pepId: str, schoolReturnId: int, reviewDecision: str, job: Job, queryReasonCode: str | None = None) -> dict[str, Any]:
        """After business support's review: the form taken in, or the school asked again."""
        return await _queue_then_deliver(
            casework, job, casework.decide_school_return(pepId, schoolReturnId, reviewDecision, queryReasonCode),
        )

    return router
