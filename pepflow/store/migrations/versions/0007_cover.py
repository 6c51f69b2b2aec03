"""Records store: cover for absent staff and single tasks given to a colleague.

- ``staff_absences``: a staff member away from/to dates, the colleague covering.
- ``task_reassignments``: an open PEP-owner task given to a named colleague, with the
  reason (it stays with them until completed or given back).

Revision ID: 0007_cover
Revises: 0006_school_returns
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_cover"
down_revision = "0006_school_returns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_absences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("staff_id", sa.String(length=40), nullable=False),
        sa.Column("cover_staff_id", sa.String(length=40), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_staff_absences_staff_id_staff")),
        sa.ForeignKeyConstraint(["cover_staff_id"], ["staff.id"], name=op.f("fk_staff_absences_cover_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_absences")),
    )
    with op.batch_alter_table("staff_absences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_absences_staff_id"), ["staff_id"], unique=False)
    op.create_table(
        "task_reassignments",
        sa.Column("user_task_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("child_id", sa.String(length=40), nullable=False),
        sa.Column("staff_id", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_task_reassignments_child_id_children")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_task_reassignments_staff_id_staff")),
        sa.PrimaryKeyConstraint("user_task_key", name=op.f("pk_task_reassignments")),
    )
    with op.batch_alter_table("task_reassignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_reassignments_child_id"), ["child_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_reassignments_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    op.drop_table("task_reassignments")
    op.drop_table("staff_absences")
