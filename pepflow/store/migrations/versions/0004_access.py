"""Records store: who is allocated and who may act.

- ``staff.login``: the user name the council's Identity knows a person by (Camunda
  Tasklist assigns by it; the web maps accounts to it).
- ``staff_allocations``: a staff member allocated to a child in a role, from/to dates.
- ``document_versions.purpose``: one version per document per PEP per purpose, so a
  document step run again after a crash finds what it made.

Revision ID: 0004_access
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0004_access"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("login", sa.String(length=254), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_staff_login"), ["login"])

    op.create_table(
        "staff_allocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("child_id", sa.String(length=40), nullable=False),
        sa.Column("staff_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_staff_allocations_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_allocations_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_allocations")),
    )
    with op.batch_alter_table("staff_allocations", schema=None) as batch_op:
        batch_op.create_index("ix_staff_allocations_child_role", ["child_id", "role"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_staff_allocations_staff_id"), ["staff_id"], unique=False
        )

    _allocate_from_social_worker_column()

    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_document_versions_pep_id_kind_purpose"), ["pep_id", "kind", "purpose"]
        )


_OWNER_ROLES = ("social-worker", "leaving-care-worker", "personal-adviser")


def _allocate_from_social_worker_column() -> None:
    """A child's worker was one column, ``children.social_worker_id``: it becomes an
    allocation from the day of the upgrade, in the owner role that staff member holds
    (social worker first), audited as the migration's."""
    conn = op.get_bind()
    now = datetime.now(timezone.utc)  # noqa: DTZ005 - a migration runs once, outside the product's clock
    roles: dict[str, set[str]] = {}
    for staff_id, role in conn.execute(sa.text("SELECT staff_id, role FROM staff_roles")):
        roles.setdefault(staff_id, set()).add(role)
    children = conn.execute(sa.text(
        "SELECT id, social_worker_id FROM children WHERE social_worker_id IS NOT NULL")).all()
    for child_id, staff_id in children:
        held = [r for r in _OWNER_ROLES if r in roles.get(staff_id, set())]
        if not held:
            continue
        conn.execute(sa.text(
            "INSERT INTO staff_allocations (child_id, staff_id, role, starts_on, ends_on, created_at, created_by) "
            "VALUES (:c, :s, :r, :d, NULL, :at, 'migration-0004')"
        ), {"c": child_id, "s": staff_id, "r": held[0], "d": now.date(), "at": now})
        conn.execute(sa.text(
            "INSERT INTO audit_log (at, actor_id, entity, entity_id, action, diff) "
            "VALUES (:at, 'migration-0004', 'child', :c, 'allocate', :diff)"
        ), {"at": now, "c": child_id, "diff": json.dumps({held[0]: [None, staff_id],
                                                          "reason": [None, "children.social_worker_id"]})})


def downgrade() -> None:
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_document_versions_pep_id_kind_purpose"), type_="unique")
        batch_op.drop_column("purpose")
    with op.batch_alter_table("staff_allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_allocations_staff_id"))
        batch_op.drop_index("ix_staff_allocations_child_role")
    op.drop_table("staff_allocations")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_staff_login"), type_="unique")
        batch_op.drop_column("login")
