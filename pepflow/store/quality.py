"""The Virtual School's quality assurance of final PEPs, in the records store.

Criteria: a list the Virtual School edits (seeded with :data:`SEED_CRITERIA`); a
criterion that is no longer used is retired, never deleted - old ratings name it.
Reviews: one round per rating of a final PEP. A round rated red is *returned* to the
social worker and the school; the improvement is a corrected final PEP (the final PEP
itself never changes: :mod:`pepflow.corrections`), after which the round is
*improved* and the next round rates the corrected version.

Every change is audited under the PEP (entity ``pep``), or under ``qa-criteria`` for
the list itself, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pepflow.domain.enums import DocumentKind, PepStatus
from pepflow.domain.quality import (
    CRITERION_CODE,
    MAX_COMMENT,
    SEED_CRITERIA,
    Rag,
    ReviewStatus,
    check_words,
)
from pepflow.store import records as r
from pepflow.store.core_reads import by_key, fields_of
from pepflow.store.errors import InvalidRecord, RecordsError, UnknownPep, UnknownRecord
from pepflow.store.models import DocumentVersionRow, PepRow
from pepflow.store.peps_repo import pep_record
from pepflow.store.quality_models import QualityCriterionRatingRow, QualityCriterionRow, QualityReviewRow

if TYPE_CHECKING:  # pragma: no cover
    from pepflow.store.repository import RecordsStore


class QualityRefused(InvalidRecord):
    """A quality step that cannot be taken now: the message says why and what to do."""


class Criterion(r.Record):
    id: int
    code: str
    title: str
    guidance: str
    position: int
    active: bool


class CriterionRating(r.Record):
    criterion_id: int
    code: str
    title: str
    rating: Rag
    comment: str | None


class Review(r.Record):
    id: int
    pep_id: str
    round: int
    status: ReviewStatus
    final_version: int
    rating: Rag | None
    comment: str | None
    requested_at: datetime
    rated_at: datetime | None
    rated_by: str | None
    returned_at: datetime | None
    improved_at: datetime | None
    improved_by: str | None
    criteria: tuple[CriterionRating, ...] = ()


def _review(row: QualityReviewRow, ratings: list[tuple[QualityCriterionRatingRow, str]]) -> Review:
    return Review(
        id=row.id, pep_id=row.pep_id, round=row.round, status=ReviewStatus(row.status),
        final_version=row.final_version, rating=Rag(row.rating) if row.rating else None, comment=row.comment,
        requested_at=row.requested_at, rated_at=row.rated_at, rated_by=row.rated_by, returned_at=row.returned_at,
        improved_at=row.improved_at, improved_by=row.improved_by,
        criteria=tuple(CriterionRating(criterion_id=x.criterion_id, code=code, title=x.title, rating=Rag(x.rating),
                                       comment=x.comment) for x, code in ratings),
    )


#: Core reads of review rounds, built once (a round is read at every step of its task;
#: issue 16): a PEP's rounds (``b_pep``) in order, and a round's ratings (``b_review``)
#: with their criterion's code, in the criteria's order
_REVIEWS_OF_PEP = fields_of(QualityReviewRow).where(QualityReviewRow.pep_id == sa.bindparam("b_pep")).order_by(
    QualityReviewRow.round)
_RATINGS = (
    fields_of(QualityCriterionRatingRow).add_columns(QualityCriterionRow.code.label("code"))
    .join(QualityCriterionRow, QualityCriterionRow.id == QualityCriterionRatingRow.criterion_id)
    .where(QualityCriterionRatingRow.review_id == sa.bindparam("b_review")).order_by(QualityCriterionRow.position)
)


#: criteria in the list's order (all, or those in use); the count of criteria; the
#: rounds' writes; a PEP's status, its last round and its final PEP's newest version;
#: final PEPs no round was opened for - built once, run through Core (issue 16: each
#: final PEP's quality task reads and writes these at every step)
_CRITERIA_ALL = fields_of(QualityCriterionRow).order_by(QualityCriterionRow.position, QualityCriterionRow.id)
_CRITERIA_ACTIVE = _CRITERIA_ALL.where(QualityCriterionRow.active.is_(True))
_CRITERIA_IN_USE = fields_of(QualityCriterionRow).where(QualityCriterionRow.active.is_(True))
_CRITERIA_COUNT = sa.select(sa.func.count()).select_from(QualityCriterionRow)
_INSERT_CRITERION = sa.insert(QualityCriterionRow.__table__)
_INSERT_REVIEW = sa.insert(QualityReviewRow.__table__)
_INSERT_RATING = sa.insert(QualityCriterionRatingRow.__table__)
_RATED = sa.update(QualityReviewRow.__table__).where(QualityReviewRow.__table__.c.id == sa.bindparam("b_id")).values(
    rating=sa.bindparam("rating"), comment=sa.bindparam("comment"), rated_at=sa.bindparam("rated_at"),
    rated_by=sa.bindparam("rated_by"), status=sa.bindparam("status"), returned_at=sa.bindparam("returned_at"))
_IMPROVED = sa.update(QualityReviewRow.__table__).where(QualityReviewRow.__table__.c.id == sa.bindparam("b_id")).values(
    status=sa.bindparam("status"), improved_at=sa.bindparam("improved_at"), improved_by=sa.bindparam("improved_by"))
_PEP_STATUS = sa.select(PepRow.status).where(PepRow.id == sa.bindparam("b_pep"))
_LAST_ROUND = fields_of(QualityReviewRow).where(QualityReviewRow.pep_id == sa.bindparam("b_pep")).order_by(
    QualityReviewRow.round.desc()).limit(1)
_FINAL_VERSION = sa.select(sa.func.max(DocumentVersionRow.version)).where(
    DocumentVersionRow.pep_id == sa.bindparam("b_pep"), DocumentVersionRow.kind == DocumentKind.FINAL.value)
_WITHOUT_REVIEW = sa.select(PepRow.id).where(
    PepRow.status == PepStatus.FINAL.value, PepRow.id.not_in(sa.select(QualityReviewRow.pep_id))
).order_by(PepRow.finalised_at, PepRow.id)


#: what a round just opened has not got yet
_UNRATED = {"rating": None, "comment": None, "rated_at": None, "rated_by": None, "returned_at": None,
            "improved_at": None, "improved_by": None}


def _review_from(conn: sa.Connection, row: Any) -> Review:
    """The round ``row`` (a :func:`fields_of` row, or its values after a write) with its
    ratings, read on ``conn``."""
    ratings = conn.execute(_RATINGS, {"b_review": row.id}).all()
    return _review(row, [(x, x.code) for x in ratings])


class QualityRecords:
    """Criteria and review rounds (``QualityRecords(store)``)."""

    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    # -- criteria -----------------------------------------------------------------
    def criteria(self, *, include_retired: bool = False) -> list[Criterion]:
        return self.store.uow.records(Criterion, _CRITERIA_ALL if include_retired else _CRITERIA_ACTIVE)

    def seed_criteria(self, *, actor: str) -> int:
        """The seed criteria, when the Virtual School has none yet; returns how many were added.

        Two steps may seed at the same moment (the first final PEPs' quality reviews open
        together): both find no criteria, and the second's insert meets the first's
        codes. The list the first wrote stands, and the second adds nothing (0)."""
        try:
            return self._seed_criteria(actor)
        except RecordsError:
            if self.store.uow.in_transaction:
                raise  # the caller's transaction is spoiled either way
            with self.store.uow.rows() as conn:
                if conn.execute(_CRITERIA_COUNT).scalar():
                    return 0
            raise

    def _seed_criteria(self, actor: str) -> int:
        with self.store.uow.transaction() as s:
            conn = self.store.uow.connection(s)
            if conn.execute(_CRITERIA_COUNT).scalar():
                return 0
            conn.execute(_INSERT_CRITERION, [
                {"code": seed.code, "title": seed.title, "guidance": seed.guidance, "position": position,
                 "active": True, "updated_at": self.store.clock.now(), "updated_by": actor}
                for position, seed in enumerate(SEED_CRITERIA, start=1)])
            self.store.uow.audit(s, actor, "qa-criteria", "list", "seed",
                              {"criteria": [None, [c.code for c in SEED_CRITERIA]]})
            return len(SEED_CRITERIA)

    def save_criterion(self, code: str, title: str, guidance: str, *, active: bool = True, actor: str) -> Criterion:
        """Add a criterion, or change its title, guidance or whether it is used."""
        code = (code or "").strip()
        if not CRITERION_CODE.match(code):
            raise QualityRefused(f"a criterion's code is 2 to 40 lower-case letters, digits and hyphens, "
                                 f"starting with a letter (e.g. smart-targets), not {code!r}")
        try:
            title = check_words(title, "the criterion's title", limit=200)
            guidance = check_words(guidance, "the criterion's guidance", limit=MAX_COMMENT)
        except ValueError as exc:
            raise QualityRefused(str(exc)) from None
        with self.store.uow.transaction() as s:
            row = s.scalar(sa.select(QualityCriterionRow).where(QualityCriterionRow.code == code))
            now = self.store.clock.now()
            if row is None:
                position = (s.scalar(sa.select(sa.func.max(QualityCriterionRow.position))) or 0) + 1
                row = QualityCriterionRow(code=code, title=title, guidance=guidance, position=position, active=active,
                                          updated_at=now, updated_by=actor)
                s.add(row)
                s.flush()
                self.store.uow.audit(s, actor, "qa-criteria", code, "create",
                                  {"title": [None, title], "guidance": [None, guidance], "active": [None, active]})
                return Criterion.model_validate(row)
            changes = {k: [getattr(row, k), v] for k, v in (("title", title), ("guidance", guidance), ("active", active))
                       if getattr(row, k) != v}
            if not changes:
                return Criterion.model_validate(row)
            for key, (_old, new) in changes.items():
                setattr(row, key, new)
            row.updated_at, row.updated_by = now, actor
            s.flush()
            self.store.uow.audit(s, actor, "qa-criteria", code, "update", changes)
            return Criterion.model_validate(row)

    # -- review rounds ------------------------------------------------------------
    def open_round(self, pep_id: str, *, actor: str) -> Review:
        """The round awaiting rating for a final PEP: the open one, or a new one
        (round 1; after an improvement, the next). Refused while a red round waits for
        its improvement, and for a PEP that is not final."""
        with self.store.uow.transaction() as s:
            conn = self.store.uow.connection(s)
            status = conn.execute(_PEP_STATUS, {"b_pep": pep_id}).scalar()
            if status is None:
                raise UnknownPep(pep_id)
            if status != PepStatus.FINAL.value:
                raise QualityRefused(f"{pep_id} is {status}: only a final PEP is rated for quality")
            last = conn.execute(_LAST_ROUND, {"b_pep": pep_id}).first()
            if last is not None and last.status == ReviewStatus.AWAITING_RATING.value:
                return _review_from(conn, last)
            if last is not None and last.status == ReviewStatus.RETURNED.value:
                raise QualityRefused(f"{pep_id} was rated red and is with the social worker and the school for "
                                     "improvement: it is rated again once a corrected final PEP is made")
            version = self._final_version(conn, pep_id)
            if version == 0:
                raise QualityRefused(f"{pep_id} has no final PEP document yet: it is rated once it has been made")
            row = {"pep_id": pep_id, "round": (last.round + 1) if last else 1,
                   "status": ReviewStatus.AWAITING_RATING.value, "final_version": version,
                   "requested_at": self.store.clock.now()}
            row["id"] = conn.execute(_INSERT_REVIEW, row).inserted_primary_key[0]
            self.store.uow.audit(s, actor, "pep", pep_id, "quality-review-opened",
                              {"round": [None, row["round"]], "final_version": [None, version]})
            # a new round has no ratings yet (they are written only by rate())
            return _review(SimpleNamespace(**_UNRATED, **row), [])

    def rate(self, review_id: int, ratings: dict[str, tuple[str, str | None]], overall: str, comment: str | None,
             *, actor: str) -> Review:
        """Rate a round: every criterion in use (code -> (rating, comment)) and the PEP
        overall. Red and amber need a comment saying what to improve; red overall needs
        the reason it is returned. Nothing is kept unless all of it is valid."""
        problems: list[str] = []
        try:
            overall_rag = Rag(overall)
        except ValueError:
            raise QualityRefused(f"the overall rating must be red, amber or green, not {overall!r}") from None
        try:
            overall_comment = check_words(comment, "the overall comment", limit=MAX_COMMENT,
                                          required=overall_rag is Rag.RED)
        except ValueError as exc:
            if overall_rag is Rag.RED:
                raise QualityRefused("a red rating returns the PEP for improvement: say in the overall comment "
                                     "what must be improved") from None
            raise QualityRefused(str(exc)) from None
        with self.store.uow.transaction() as s:
            conn = self.store.uow.connection(s)
            found = conn.execute(by_key(QualityReviewRow), {"key": review_id}).mappings().first()
            if found is None:
                raise UnknownRecord(str(review_id), "no such quality review")
            row = SimpleNamespace(**found)
            if row.status != ReviewStatus.AWAITING_RATING.value:
                raise QualityRefused(f"round {row.round} of {row.pep_id}'s quality review is {row.status}: "
                                     "it cannot be rated again")
            criteria = {c.code: c for c in conn.execute(_CRITERIA_IN_USE).all()}
            if not criteria:
                raise QualityRefused("there are no quality criteria: the Virtual School adds them first")
            unknown = sorted(set(ratings) - set(criteria))
            if unknown:
                problems.append(f"not criteria in use: {', '.join(unknown)}")
            missing = [c.title for code, c in criteria.items() if code not in ratings]
            if missing:
                problems.append(f"rate every criterion; not rated: {'; '.join(missing)}")
            rows = []
            for code, (value, note) in ratings.items():
                if code not in criteria:
                    continue
                try:
                    rag = Rag(value)
                except ValueError:
                    problems.append(f"{criteria[code].title}: the rating must be red, amber or green")
                    continue
                try:
                    words = check_words(note, f"{criteria[code].title}: the comment", limit=MAX_COMMENT,
                                        required=rag is not Rag.GREEN)
                except ValueError:
                    problems.append(f"{criteria[code].title}: rated {rag.value}, so say what should improve")
                    continue
                rows.append({"review_id": row.id, "criterion_id": criteria[code].id, "title": criteria[code].title,
                             "rating": rag.value, "comment": words})
            if problems:
                raise QualityRefused("; ".join(problems))
            now = self.store.clock.now()
            if rows:
                conn.execute(_INSERT_RATING, rows)
            row.rating, row.comment, row.rated_at, row.rated_by = overall_rag.value, overall_comment, now, actor
            row.status = (ReviewStatus.RETURNED if overall_rag is Rag.RED else ReviewStatus.RATED).value
            if overall_rag is Rag.RED:
                row.returned_at = now
            conn.execute(_RATED, {"b_id": row.id, "rating": row.rating, "comment": row.comment,
                                  "rated_at": row.rated_at, "rated_by": row.rated_by, "status": row.status,
                                  "returned_at": row.returned_at})
            self.store.uow.forget(s, QualityReviewRow, row.id)
            self.store.uow.audit(s, actor, "pep", row.pep_id, "quality-rated", {
                "round": [None, row.round], "rating": [None, overall_rag.value],
                "criteria": [None, {x["title"]: x["rating"] for x in rows}],
                **({"returned_for_improvement": [None, True]} if overall_rag is Rag.RED else {}),
            })
            return _review_from(conn, row)

    def mark_improved(self, review_id: int, *, actor: str) -> Review:
        """A returned round whose PEP now has a corrected final version made after the
        return. Refused (with what to do) while there is none."""
        with self.store.uow.transaction() as s:
            conn = self.store.uow.connection(s)
            found = conn.execute(by_key(QualityReviewRow), {"key": review_id}).mappings().first()
            if found is None:
                raise UnknownRecord(str(review_id), "no such quality review")
            row = SimpleNamespace(**found)
            if row.status != ReviewStatus.RETURNED.value:
                raise QualityRefused(f"round {row.round} of {row.pep_id}'s quality review is {row.status}, "
                                     "not returned for improvement")
            version = self._final_version(conn, row.pep_id)
            if version <= row.final_version:
                raise QualityRefused(
                    f"{row.pep_id} has no corrected final PEP since it was returned (still version "
                    f"{row.final_version}): correct the final PEP first - the correction makes a new version, "
                    "sent to everyone who attended")
            row.status, row.improved_at, row.improved_by = ReviewStatus.IMPROVED.value, self.store.clock.now(), actor
            conn.execute(_IMPROVED, {"b_id": row.id, "status": row.status, "improved_at": row.improved_at,
                                     "improved_by": row.improved_by})
            self.store.uow.forget(s, QualityReviewRow, row.id)
            self.store.uow.audit(s, actor, "pep", row.pep_id, "quality-improved", {
                "round": [None, row.round], "final_version": [row.final_version, version]})
            return _review_from(conn, row)

    # -- reads --------------------------------------------------------------------
    def review(self, review_id: int) -> Review:
        with self.store.uow.rows() as conn:
            row = conn.execute(by_key(QualityReviewRow), {"key": review_id}).first()
            if row is None:
                raise UnknownRecord(str(review_id), "no such quality review")
            return _review_from(conn, row)

    def reviews_for(self, pep_id: str) -> list[Review]:
        with self.store.uow.rows() as conn:
            rows = conn.execute(_REVIEWS_OF_PEP, {"b_pep": pep_id}).all()
            return [_review_from(conn, x) for x in rows]

    def latest(self, pep_id: str) -> Review | None:
        reviews = self.reviews_for(pep_id)
        return reviews[-1] if reviews else None

    def final_peps_without_review(self) -> list[str]:
        """Final PEPs no round has been opened for, oldest first."""
        with self.store.uow.rows() as conn:
            return list(conn.execute(_WITHOUT_REVIEW).scalars().all())

    def rated_rounds(self) -> list[tuple[Review, r.Pep]]:
        """Every rated round with its PEP (for the dashboard)."""
        with self.store.uow.read() as s:
            rows = s.execute(sa.select(QualityReviewRow, PepRow).join(PepRow, PepRow.id == QualityReviewRow.pep_id)
                             .where(QualityReviewRow.rating.is_not(None))
                             .order_by(QualityReviewRow.rated_at, QualityReviewRow.id)).all()
            return [(_review(q, []), pep_record(p)) for q, p in rows]

    @staticmethod
    def _final_version(conn: sa.Connection, pep_id: str) -> int:
        return conn.execute(_FINAL_VERSION, {"b_pep": pep_id}).scalar() or 0
