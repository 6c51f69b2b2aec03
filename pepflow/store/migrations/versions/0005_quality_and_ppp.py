"""Records store: the Virtual School's quality assurance of final PEPs (criteria,
review rounds, ratings per criterion) and Pupil Premium Plus requests (issue 15).

Revision ID: 0005_quality_and_ppp
Revises: 0004_access
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_quality_and_ppp"
down_revision = "0004_access"
branch_labels = None
depends_on = None

AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "qa_criteria",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("guidance", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", AT, nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_criteria")),
        sa.UniqueConstraint("code", name=op.f("uq_qa_criteria_code")),
    )
    op.create_table(
        "qa_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pep_id", sa.String(length=60), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("final_version", sa.Integer(), nullable=False),
        sa.Column("rating", sa.String(length=40), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("requested_at", AT, nullable=False),
        sa.Column("rated_at", AT, nullable=True),
        sa.Column("rated_by", sa.String(length=40), nullable=True),
        sa.Column("returned_at", AT, nullable=True),
        sa.Column("improved_at", AT, nullable=True),
        sa.Column("improved_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["pep_id"], ["peps.id"], name=op.f("fk_qa_reviews_pep_id_peps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_reviews")),
        sa.UniqueConstraint("pep_id", "round", name=op.f("uq_qa_reviews_pep_id_round")),
    )
    op.create_index(op.f("ix_qa_reviews_pep_id"), "qa_reviews", ["pep_id"], unique=False)
    op.create_table(
        "qa_criterion_ratings",
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("rating", sa.String(length=40), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["criterion_id"], ["qa_criteria.id"],
                                name=op.f("fk_qa_criterion_ratings_criterion_id_qa_criteria")),
        sa.ForeignKeyConstraint(["review_id"], ["qa_reviews.id"],
                                name=op.f("fk_qa_criterion_ratings_review_id_qa_reviews"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("review_id", "criterion_id", name=op.f("pk_qa_criterion_ratings")),
    )
    op.create_table(
        "ppp_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pep_id", sa.String(length=60), nullable=False),
        sa.Column("child_id", sa.String(length=40), nullable=False),
        sa.Column("setting_id", sa.String(length=40), nullable=True),
        sa.Column("target_number", sa.Integer(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("requested_at", AT, nullable=False),
        sa.Column("requested_by", sa.String(length=40), nullable=False),
        sa.Column("decided_at", AT, nullable=True),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("financial_year", sa.Integer(), nullable=True),
        sa.Column("impact", sa.Text(), nullable=True),
        sa.Column("impact_recorded_at", AT, nullable=True),
        sa.Column("impact_recorded_by", sa.String(length=40), nullable=True),
        sa.Column("impact_pep_id", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_ppp_requests_child_id_children")),
        sa.ForeignKeyConstraint(["impact_pep_id"], ["peps.id"], name=op.f("fk_ppp_requests_impact_pep_id_peps")),
        sa.ForeignKeyConstraint(["pep_id"], ["peps.id"], name=op.f("fk_ppp_requests_pep_id_peps")),
        sa.ForeignKeyConstraint(["setting_id"], ["education_settings.id"],
                                name=op.f("fk_ppp_requests_setting_id_education_settings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ppp_requests")),
    )
    op.create_index(op.f("ix_ppp_requests_child_id"), "ppp_requests", ["child_id"], unique=False)
    op.create_index(op.f("ix_ppp_requests_pep_id"), "ppp_requests", ["pep_id"], unique=False)
    op.create_index(op.f("ix_ppp_requests_setting_id"), "ppp_requests", ["setting_id"], unique=False)
    op.create_index("ix_ppp_requests_financial_year", "ppp_requests", ["financial_year", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ppp_requests_financial_year", table_name="ppp_requests")
    op.drop_index(op.f("ix_ppp_requests_setting_id"), table_name="ppp_requests")
    op.drop_index(op.f("ix_ppp_requests_pep_id"), table_name="ppp_requests")
    op.drop_index(op.f("ix_ppp_requests_child_id"), table_name="ppp_requests")
    op.drop_table("ppp_requests")
    op.drop_table("qa_criterion_ratings")
    op.drop_index(op.f("ix_qa_reviews_pep_id"), table_name="qa_reviews")
    op.drop_table("qa_reviews")
    op.drop_table("qa_criteria")
