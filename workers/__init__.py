"""pyzeebe job workers for the PEP process: one router per concern, thin handlers
over :class:`pepflow.casework.Casework`.

The same routers run embedded (``pepflow.engine.worker.EmbeddedWorker``) and against
Camunda 8 (a pyzeebe ``ZeebeWorker`` with ``include_router``).
"""

from __future__ import annotations

from pyzeebe import ZeebeTaskRouter

from pepflow.casework import Casework

from . import documents, mail, records

#: every task type the diagram uses, declared once
TASK_TYPES = (
    *records.TASK_TYPES,
    *documents.TASK_TYPES,
    *mail.TASK_TYPES,
)


def build_routers(casework: Casework) -> list[ZeebeTaskRouter]:
    return [records.build_router(casework), documents.build_router(casework), mail.build_router(casework)]
