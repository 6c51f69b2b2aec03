"""pyzeebe job workers for the PEP process: one router per concern, thin handlers
over :class:`pepflow.casework.Casework`.

The same routers run embedded (``pepflow.engine.worker.EmbeddedWorker``) and against
Camunda 8 (a pyzeebe ``ZeebeWorker`` with ``include_router``). Every handler's result
is checked against the process-variable contract (``pepflow/domain/variables.py``)
before the job completes, so a result with free text or an unknown variable fails the
job (an incident naming the variable, never its value) on Camunda 8 as embedded.
"""

from __future__ import annotations

import functools
from typing import Any

from pyzeebe import ZeebeTaskRouter
from pyzeebe.task.task_builder import build_job_handler

from pepflow.casework import Casework
from pepflow.domain.variables import CONTRACTS, check_variables

from . import documents, mail, quality, records

#: every task type the diagram uses, declared once
TASK_TYPES = (
    *records.TASK_TYPES,
    *documents.TASK_TYPES,
    *mail.TASK_TYPES,
    *quality.TASK_TYPES,
)


class ContractViolation(ValueError):
    """A handler returned variables the process contract does not allow."""


def _contract_checked(task_type: str, function, process: str = "pep"):
    contract = CONTRACTS[process]

    @functools.wraps(function)
    async def checked(*args: Any, **kwargs: Any) -> Any:
        result = await function(*args, **kwargs)
        problems = check_variables(contract, result or {})
        if problems:
            raise ContractViolation(f"{task_type} returned variables the process contract refuses: {'; '.join(problems)}")
        return result

    return checked


def build_routers(casework: Casework) -> list[ZeebeTaskRouter]:
    routers = [records.build_router(casework), documents.build_router(casework), mail.build_router(casework)]
    processes = ["pep"] * len(routers)
    routers.append(quality.build_router(casework))  # the Virtual School's quality review
    processes.append(quality.PROCESS)
    for router, process in zip(routers, processes):
        for task in router.tasks:
            task.original_function = _contract_checked(task.type, task.original_function, process)
            task.job_handler = build_job_handler(task.original_function, task.config)
    return routers
