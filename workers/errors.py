"""How a failed job is reported, the same on Camunda 8 and embedded.

A ``BusinessError`` is a BPMN error the diagram models. Anything else is a failure:
retries - 1, and the next attempt waits an exponential backoff (so a mail relay that
is down for a while is not hammered); at zero retries the job raises an incident.
"""

from __future__ import annotations

import logging

from pyzeebe import Job
from pyzeebe.errors import BusinessError
from pyzeebe.job.job import JobController

from pepflow.redact import safe_error

log = logging.getLogger(__name__)

BASE_BACKOFF_MS = 30_000
MAX_BACKOFF_MS = 30 * 60_000


def backoff_ms(retries_left: int, configured: int = 3) -> int:
    attempt = max(0, configured - retries_left)
    return min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * (2**attempt))


async def exception_handler(exc: Exception, job: Job, job_controller: JobController) -> None:
    if isinstance(exc, BusinessError):
        await job_controller.set_error_status(f"{job.type}: {safe_error(exc)}", error_code=exc.error_code)
        return
    # incidents and logs carry codes and references, never what someone submitted
    message = safe_error(exc)
    log.warning("%s failed in %s (retries left %s): %s", job.type, job.element_id, job.retries - 1, message)
    await job_controller.set_failure_status(message, retry_back_off_ms=backoff_ms(job.retries - 1))
