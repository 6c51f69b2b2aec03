"""Records store: council events kept as facts, and escalations of late waits.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "council_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("child_id", sa.String(length=40), nullable=False),
        sa.Column("care_episode_id", sa.String(length=40), nullable=True),
        sa.Column("pep_id", sa.String(length=60), nullable=True),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=40), nullable=False),
        sa.Column("message_name", sa.String(length=80), nullable=True),
        sa.Column("message_key", sa.String(length=40), nullable=True),
        sa.Column("told_process_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_council_events_child_id_children")),
        sa.ForeignKeyConstraint(
            ["care_episode_id"], ["care_episodes.id"], name=op.f("fk_council_events_care_episode_id_care_episodes")
        ),
        sa.ForeignKeyConstraint(["pep_id"], ["peps.id"], name=op.f("fk_council_events_pep_id_peps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_council_events")),
    )
    with op.batch_alter_table("council_events", schema=None) as batch_op:
        batch_op.create_index("ix_council_events_child", ["child_id", "kind"], unique=False)

    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pep_id", sa.String(length=60), nullable=False),
        sa.Column("child_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("owner_staff_id", sa.String(length=40), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_escalations_child_id_children")),
        sa.ForeignKeyConstraint(["pep_id"], ["peps.id"], name=op.f("fk_escalations_pep_id_peps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("pep_id", "kind", "due_at", name=op.f("uq_escalations_pep_id_kind_due_at")),
    )
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escalations_child_id"), ["child_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_escalations_pep_id"), ["pep_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalations_pep_id"))
        batch_op.drop_index(batch_op.f("ix_escalations_child_id"))
    op.drop_table("escalations")
    with op.batch_alter_table("council_events", schema=None) as batch_op:
        batch_op.drop_index("ix_council_events_child")
    op.drop_table("council_events")
