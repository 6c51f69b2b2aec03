"""The Virtual School's quality review of a final PEP (bpmn/pep-quality.bpmn): thin
handlers over :class:`pepflow.quality.QualityService`."""

import asyncio
from typing import Any

from pyzeebe import ZeebeTaskRouter

from pepflow.casework import Casework
from pepflow.quality import QualityService

from .errors import exception_handler

OPEN_QUALITY_REVIEW = "open-quality-review"
RECORD_QUALITY_RATING = "record-quality-rating"
RETURN_PEP_FOR_IMPROVEMENT = "return-pep-for-improvement"
RECORD_PEP_IMPROVEMENT = "record-pep-improvement"
TASK_TYPES = (OPEN_QUALITY_REVIEW, RECORD_QUALITY_RATING, RETURN_PEP_FOR_IMPROVEMENT, RECORD_PEP_IMPROVEMENT)
#: the process these handlers serve (its variable contract checks their results)
PROCESS = "pep-quality"


def build_router(casework: Casework) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter(exception_handler=exception_handler)
    made: list[QualityService] = []

    def quality() -> QualityService:
        # like the other routers, reach casework only when a job comes (a worker can be
        # built, and its tenants checked, before the records are open)
        if not made:
            made.append(QualityService(casework.store, None, casework.clock, casework))
        return made[0]

    @router.task(task_type=OPEN_QUALITY_REVIEW)
    async def open_quality_review(pepId: str) -> dict[str, Any]:
        return await asyncio.to_thread(quality().open_review, pepId)

    @router.task(task_type=RECORD_QUALITY_RATING)
    async def record_quality_rating(qualityReviewId: int, qualityRating: str | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(quality().record_rating, qualityReviewId, qualityRating)

    @router.task(task_type=RETURN_PEP_FOR_IMPROVEMENT)
    async def return_pep_for_improvement(qualityReviewId: int) -> dict[str, Any]:
        return await quality().return_for_improvement(qualityReviewId)

    @router.task(task_type=RECORD_PEP_IMPROVEMENT)
    async def record_pep_improvement(qualityReviewId: int, pepImproved: bool | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(quality().record_improvement, qualityReviewId, pepImproved)

    return router
