"""Records store: each returned form as read and reviewed (issue 12).

- ``school_returns``: what a returned form said, what was flagged, what it changes
  against the returns accepted before, which version of the form came back, and
  business support's decision (accepted, accepted with edits, school asked again).

Revision ID: 0006_school_returns
Revises: 0005_quality_and_ppp
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_school_returns"
down_revision = "0005_quality_and_ppp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "school_returns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pep_id", sa.String(length=60), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=True),
        sa.Column("latest_form_version", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("edits", sa.JSON(), nullable=True),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.String(length=40), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document_versions.id"],
            name=op.f("fk_school_returns_document_id_document_versions"),
        ),
        sa.ForeignKeyConstraint(["pep_id"], ["peps.id"], name=op.f("fk_school_returns_pep_id_peps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_returns")),
    )
    with op.batch_alter_table("school_returns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_school_returns_pep_id"), ["pep_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("school_returns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_school_returns_pep_id"))
    op.drop_table("school_returns")
