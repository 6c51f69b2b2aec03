"""Documents: the termly PEP form and the final PEP (boxes 1, 3 and 6)."""


import asyncio
from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from pepflow.casework import Casework

from .errors import exception_handler

GENERATE_PEP_FORM = "generate-pep-form"
GENERATE_FINAL_PEP = "generate-final-pep"
TASK_TYPES = (GENERATE_PEP_FORM, GENERATE_FINAL_PEP)


def purpose(job: Job) -> str:
    """What a document is made for: this element instance. A job run again (after a
    crash, a timeout, a retry) has the same one, so the document is made once; the
    element entered again (a PEP sent back and finalised again) gets a new one."""
    return f"{job.element_id}:{job.element_instance_key}"


def build_router(casework: Casework) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter(exception_handler=exception_handler)

    # python-docx is CPU-bound and blocking: a thread, not the event loop.
    @router.task(task_type=GENERATE_PEP_FORM, timeout_ms=120_000)
    async def generate_pep_form(pepId: str, job: Job) -> dict[str, Any]:
        return await asyncio.to_thread(casework.generate_pep_form, pepId, purpose(job))

    @router.task(task_type=GENERATE_FINAL_PEP, timeout_ms=120_000)
    async def generate_final_pep(pepId: str, job: Job, attendeeIds: list[str] | None = None, nextMeetingDates: list[str] | None = None, nextPepDate1: str | None = None, nextPepDate2: str | None = None) -> dict[str, Any]:
        dates = nextMeetingDates or [d for d in (nextPepDate1, nextPepDate2) if d]
        return await asyncio.to_thread(casework.generate_final_pep, pepId, attendeeIds or [], dates, purpose(job))

    return router
