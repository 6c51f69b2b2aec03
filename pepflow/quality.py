"""The Virtual School's quality assurance of final PEPs (issue 15).

Every final PEP is rated red/amber/green against the Virtual School's criteria, with a
comment per criterion and overall. The steps are the small process
``bpmn/pep-quality.bpmn`` (``pep-quality``), started by the message
``pep-quality-review`` once per final PEP (correlation key: the PEP id):

- ``OpenQualityReviewTask`` (``open-quality-review``) opens the round in the records;
- ``RatePepQualityTask`` (form ``rate-pep-quality``, candidate group
  ``virtual-school``): the ratings and comments go to the records store on the PEP's
  quality page (free text is never a process variable); the task carries the overall
  rating code;
- ``RecordQualityRatingTask`` (``record-quality-rating``) checks the records agree
  (else the rating task comes back with the reason);
- red: ``ReturnForImprovementTask`` (``return-pep-for-improvement``) tells the PEP's
  owner and the school; ``ImprovePepTask`` (form ``improve-pep``, the PEP owner)
  waits for a *corrected* final PEP (:mod:`pepflow.corrections`: the final PEP itself
  never changes); ``RecordPepImprovementTask`` (``record-pep-improvement``) opens the
  next round, rated again.

This module is the service under those steps and under the web pages.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .casework import Casework
from .corrections import correct_final_pep
from .domain.enums import PepStatus
from .domain.quality import Rag, ReviewStatus
from .engine.errors import InvalidState, InvalidVariables
from .mail.wording import designated_role
from .ownership import assignment_for
from .store import RecordsStore
from .store.errors import MissingAddress, RecordsError
from .store.quality import QualityRecords, QualityRefused, Review

log = logging.getLogger(__name__)
LONDON = ZoneInfo("Europe/London")

QUALITY_PROCESS = "pep-quality"
REVIEW_MESSAGE = "pep-quality-review"
REVIEWER_GROUP = "virtual-school"
RATE_TASK = "RatePepQualityTask"
IMPROVE_TASK = "ImprovePepTask"
RATE_FORM = "rate-pep-quality"
IMPROVE_FORM = "improve-pep"


class QualityService:
    """Quality reviews over the records store and the workflow engine."""

    def __init__(self, store: RecordsStore, engine: Any, clock: Any, casework: Casework | None = None) -> None:
        self.store = store
        self.engine = engine
        self.clock = clock
        self.casework = casework
        self.records = QualityRecords(store)
        self._last_day: date | None = None

    def today(self) -> date:
        return self.clock.now().astimezone(LONDON).date()

    # -- starting reviews -----------------------------------------------------------
    def request_review(self, pep_id: str) -> bool:
        """Start the quality review of a final PEP (once per PEP: the message id is the
        PEP's). Returns whether the process was told now."""
        pep = self.store.pep(pep_id)
        if pep.status != PepStatus.FINAL:
            raise QualityRefused(f"{pep_id} is {pep.status.value}: only a final PEP is rated for quality")
        try:
            self.engine.publish_message(REVIEW_MESSAGE, pep_id, {"pepId": pep_id, "childId": pep.child_id},
                                        message_id=f"{REVIEW_MESSAGE}-{pep_id}")
        except InvalidState as exc:  # the same message id again: the review was asked for already
            if "already published" in str(exc):
                return False
            raise
        return True

    def request_due(self) -> list[str]:
        """Every final PEP nobody has opened a review for yet."""
        asked = []
        for pep_id in self.records.final_peps_without_review():
            if self.request_review(pep_id):
                asked.append(pep_id)
        return asked

    def tick(self, now: datetime) -> None:
        """The runtime's ticker: once a day, final PEPs go to the Virtual School."""
        day = now.astimezone(LONDON).date()
        if day == self._last_day:
            return
        self._last_day = day
        try:
            asked = self.request_due()
        except Exception:  # the check must never stop the engine; it runs again tomorrow
            log.exception("requesting quality reviews of final PEPs failed")
            return
        if asked:
            log.info("quality reviews requested for %d final PEP(s)", len(asked))

    # -- the steps (workers) ----------------------------------------------------------
    def open_review(self, pep_id: str) -> dict[str, Any]:
        self.records.seed_criteria(actor="system")  # the seed list, until the Virtual School has its own
        review = self.records.open_round(pep_id, actor="system")
        pep = self.store.pep(pep_id)
        return {"qualityReviewId": review.id, "qualityReviewerGroups": [REVIEWER_GROUP],
                "qualityRatingProblem": None, "qualityRating": None,
                **assignment_for(self.store, pep.child_id, self.today()).variables()}

    def record_rating(self, review_id: int, rating: str | None) -> dict[str, Any]:
        """The rating task's answer against the records: the round must be rated there
        with the same overall rating, else the task comes back with the reason."""
        problem = self.rating_problem(review_id, rating)
        if problem is not None:
            return {"qualityRatingProblem": problem[0], "qualityRating": None}
        return {"qualityRatingProblem": None, "qualityRating": rating}

    def rating_problem(self, review_id: int, rating: str | None) -> tuple[str, str] | None:
        review = self.records.review(review_id)
        if review.status is ReviewStatus.AWAITING_RATING:
            return ("criteria-not-rated", f"rate every criterion of {review.pep_id} on its quality page first "
                                          "(with a comment for each red or amber)")
        if review.rating is None or review.rating.value != rating:
            return ("rating-differs", f"{review.pep_id} is rated {review.rating.value if review.rating else 'nothing'} "
                                      f"on its quality page, not {rating}: give the same overall rating")
        return None

    async def return_for_improvement(self, review_id: int) -> dict[str, Any]:
        """Tell the PEP's owner and the school that the PEP was returned (once per round)."""
        review = self.records.review(review_id)
        pep = self.store.pep(review.pep_id)
        if self.casework is None:
            raise RuntimeError("returning a PEP for improvement sends mail: the service needs the casework")
        rated_on = review.rated_at.astimezone(LONDON).date() if review.rated_at else self.today()
        recipients = []
        owner = assignment_for(self.store, pep.child_id, self.today())
        if owner.staff_id:
            staff = self.store.staff(owner.staff_id)
            recipients.append((f"owner-{owner.staff_id}", self._address(staff, owner.role.value)))
        if pep.setting_id:
            try:
                school = self.store.designated_teacher_address(pep.setting_id)
                setting = self.store.setting(pep.setting_id)
                recipients.append(("school", school.model_copy(update={"role": designated_role(setting.kind.value)})))
            except MissingAddress:
                log.warning("%s: the school has no designated teacher address; the owner tells them", pep.id)
        for who, address in recipients:
            await self.casework.mail.queue(  # the one way a message is queued
                f"{pep.id}:quality-returned:{review.round}:{who}", "pep-quality-returned", pep, address,
                {"pep_reference": pep.id, "rated_on": rated_on, "recipient_role": address.role},
            )
        if self.casework.deliver_after_steps:
            await self.casework.sender.flush()
        return {}

    @staticmethod
    def _address(staff, role: str):
        from .store.records import Address

        return Address(name=staff.name, email=staff.email, party_id=staff.id, role=role)

    def record_improvement(self, review_id: int, improved: bool | None) -> dict[str, Any]:
        """After the improvement task: a corrected final PEP opens the next round."""
        problem = self.improvement_problem(review_id, improved)
        if problem is not None:
            return {"improvementProblem": problem[0]}
        review = self.records.review(review_id)
        self.records.mark_improved(review_id, actor="system")
        following = self.records.open_round(review.pep_id, actor="system")
        return {"improvementProblem": None, "qualityReviewId": following.id, "qualityRating": None,
                "qualityRatingProblem": None, "pepImproved": None}

    def improvement_problem(self, review_id: int, improved: bool | None) -> tuple[str, str] | None:
        review = self.records.review(review_id)
        if not improved:
            return ("not-confirmed", "confirm the PEP was improved")
        if review.status is not ReviewStatus.RETURNED:
            return ("not-returned", f"round {review.round} of {review.pep_id} is {review.status.value}")
        latest = max((d.version for d in self.store.documents(review.pep_id, "final")), default=0)
        if latest <= review.final_version:
            return ("no-corrected-version",
                    f"{review.pep_id} has no corrected final PEP since it was returned: correct the final PEP "
                    "(on its quality page) first; the correction is sent to everyone who attended")
        return None

    # -- what people do on the web -------------------------------------------------
    def open_task(self, pep_id: str, element_id: str):
        for task in self.engine.user_tasks(element_id=element_id):
            if task.variables.get("pepId") == pep_id and task.bpmn_process_id == QUALITY_PROCESS:
                return task
        return None

    def rate(self, pep_id: str, ratings: dict[str, tuple[str, str | None]], overall: str, comment: str | None,
             *, actor: str, login: str | None = None) -> Review:
        """The Virtual School rates the PEP's open round and completes its rating task."""
        task = self.open_task(pep_id, RATE_TASK)
        if task is None:
            raise QualityRefused(f"{pep_id} has no quality rating waiting: it is rated when the review starts "
                                 "(final PEPs are sent for review each day)")
        review_id = task.variables.get("qualityReviewId")
        review = self.records.rate(int(review_id), ratings, overall, comment, actor=actor)
        self.engine.complete_user_task(task.user_task_key, {"qualityRating": review.rating.value},
                                       actor=login or actor)
        return review

    async def improve(self, pep_id: str, section: str, changes: dict[str, Any], *, reason: str, actor: str,
                      login: str | None = None) -> int:
        """The owner corrects the returned final PEP (a new version, sent to every
        attendee) and completes the improvement task. Returns the new version."""
        if self.casework is None:
            raise RuntimeError("improving a PEP corrects the final PEP: the service needs the casework")
        task = self.open_task(pep_id, IMPROVE_TASK)
        if task is None:
            raise QualityRefused(f"{pep_id} is not waiting for an improvement")
        version = await correct_final_pep(self.casework, pep_id, section, changes, reason=reason, actor=actor)
        self.engine.complete_user_task(task.user_task_key, {"pepImproved": True}, actor=login or actor)
        return version

    # -- the check before a person completes a task --------------------------------
    def check_task(self, task, submitted: dict[str, Any]) -> None:
        """Registered with the embedded engine: a quality task completed from any task
        list is refused with the reason when the records do not back it."""
        if task.form_id == RATE_FORM:
            problem = self.rating_problem(int(task.variables["qualityReviewId"]), submitted.get("qualityRating"))
        elif task.form_id == IMPROVE_FORM:
            problem = self.improvement_problem(int(task.variables["qualityReviewId"]), submitted.get("pepImproved"))
        else:
            return
        if problem is not None:
            raise InvalidVariables(problem[1], problems=[problem[1]])


def rag_counts(items) -> dict[str, int]:
    counts = {r.value: 0 for r in Rag}
    for rating in items:
        counts[rating.value if isinstance(rating, Rag) else str(rating)] += 1
    return counts


__all__ = ["QualityService", "QualityRefused", "RecordsError", "rag_counts"]
