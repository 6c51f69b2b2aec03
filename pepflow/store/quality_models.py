"""Tables of the Virtual School's quality assurance of final PEPs and of Pupil Premium
Plus requests (migration ``0005_quality_and_ppp``).

Kept beside :mod:`pepflow.store.models` on the same metadata; money is whole pence
(an integer: exact on SQLite and PostgreSQL alike), shown as Decimal pounds.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pepflow.store.model_base import Base, Code, Id


class QualityCriterionRow(Base):
    """A criterion the Virtual School rates final PEPs against (it edits the list;
    a criterion no longer used is retired, never deleted: old ratings name it)."""

    __tablename__ = "qa_criteria"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(Code, unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    guidance: Mapped[str] = mapped_column(sa.Text)
    position: Mapped[int] = mapped_column(sa.Integer)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(Id)


class QualityReviewRow(Base):
    """One round of a final PEP's quality review: rated once; a red round is returned
    for improvement and the corrected final PEP is rated in the next round."""

    __tablename__ = "qa_reviews"
    __table_args__ = (sa.UniqueConstraint("pep_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    pep_id: Mapped[str] = mapped_column(sa.ForeignKey("peps.id"), index=True)
    round: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(Code)
    #: the final PEP's version this round rates
    final_version: Mapped[int] = mapped_column(sa.Integer)
    rating: Mapped[str | None] = mapped_column(Code)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    requested_at: Mapped[datetime]
    rated_at: Mapped[datetime | None]
    rated_by: Mapped[str | None] = mapped_column(Id)
    returned_at: Mapped[datetime | None]
    improved_at: Mapped[datetime | None]
    improved_by: Mapped[str | None] = mapped_column(Id)


class QualityCriterionRatingRow(Base):
    """The rating of one criterion in one round, with the criterion's title as it was."""

    __tablename__ = "qa_criterion_ratings"

    review_id: Mapped[int] = mapped_column(sa.ForeignKey("qa_reviews.id", ondelete="CASCADE"), primary_key=True)
    criterion_id: Mapped[int] = mapped_column(sa.ForeignKey("qa_criteria.id"), primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    rating: Mapped[str] = mapped_column(Code)
    comment: Mapped[str | None] = mapped_column(sa.Text)


class PppRequestRow(Base):
    """A Pupil Premium Plus request for one target of a PEP: the amount, what it pays
    for, the Virtual School's decision with its reason, and later its impact."""

    __tablename__ = "ppp_requests"
    __table_args__ = (sa.Index("ix_ppp_requests_financial_year", "financial_year", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    pep_id: Mapped[str] = mapped_column(sa.ForeignKey("peps.id"), index=True)
    child_id: Mapped[str] = mapped_column(sa.ForeignKey("children.id"), index=True)
    #: the school the money goes to (the PEP's setting when requested)
    setting_id: Mapped[str | None] = mapped_column(sa.ForeignKey("education_settings.id"), index=True)
    target_number: Mapped[int] = mapped_column(sa.Integer)
    amount_pence: Mapped[int] = mapped_column(sa.BigInteger)
    purpose: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(Code)
    requested_at: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(Id)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(Id)
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: the financial year (by its first year) the approval counts in
    financial_year: Mapped[int | None] = mapped_column(sa.Integer)
    impact: Mapped[str | None] = mapped_column(sa.Text)
    impact_recorded_at: Mapped[datetime | None]
    impact_recorded_by: Mapped[str | None] = mapped_column(Id)
    #: the PEP (normally the next term's) at which the impact was reviewed
    impact_pep_id: Mapped[str | None] = mapped_column(sa.ForeignKey("peps.id"))
