"""Records store: initial schema (every table of pepflow.store.models).

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_entity", ["entity", "entity_id"], unique=False)

    op.create_table(
        "education_settings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("designated_teacher_name", sa.String(length=200), nullable=True),
        sa.Column("designated_teacher_email", sa.String(length=254), nullable=True),
        sa.Column("locality", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_education_settings")),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("team", sa.String(length=40), nullable=True),
        sa.Column("candidate_group", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
    )
    op.create_table(
        "children",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("legal_status", sa.String(length=80), nullable=True),
        sa.Column("locality", sa.String(length=40), nullable=True),
        sa.Column("social_worker_id", sa.String(length=40), nullable=True),
        sa.Column("carer_contact_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["social_worker_id"], ["staff.id"], name=op.f("fk_children_social_worker_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_children")),
    )
    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_children_social_worker_id"), ["social_worker_id"], unique=False
        )

    op.create_table(
        "inset_days",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("setting_id", sa.String(length=40), nullable=True),
        sa.Column("academic_year", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["setting_id"],
            ["education_settings.id"],
            name=op.f("fk_inset_days_setting_id_education_settings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inset_days")),
        sa.UniqueConstraint("scope", "day", name=op.f("uq_inset_days_scope_day")),
    )
    with op.batch_alter_table("inset_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inset_days_setting_id"), ["setting_id"], unique=False)

    op.create_table(
        "staff_roles",
        sa.Column("staff_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_roles_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "role", name=op.f("pk_staff_roles")),
    )
    with op.batch_alter_table("staff_roles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_roles_role"), ["role"], unique=False)

    op.create_table(
        "term_dates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("setting_id", sa.String(length=40), nullable=True),
        sa.Column("academic_year", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=10), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("half_term_starts_on", sa.Date(), nullable=True),
        sa.Column("half_term_ends_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["setting_id"],
            ["education_settings.id"],
            name=op.f("fk_term_dates_setting_id_education_settings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_term_dates")),
        sa.UniqueConstraint(
            "scope", "academic_year", "term", name=op.f("uq_term_dates_scope_academic_year_term")
        ),
    )
    with op.batch_alter_table("term_dates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_term_dates_setting_id"), ["setting_id"], unique=False)

    op.create_table(
        "care_episodes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("child_id", sa.String(length=40), nullable=False),
        sa.Column("entered_care_on", sa.Date(), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("left_care_on", sa.Date(), nullable=True),
        sa.Column("left_care_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_care_episodes_child_id_children")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_episodes")),
    )
    with op.batch_alter_table("care_episodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_episodes_child_id"), ["child_id"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("child_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("receives_pep", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_contacts_child_id_children")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_child_id"), ["child_id"], unique=False)

    # children <-> contacts is a cycle: the carer constraint comes once both tables exist
    # (batch mode: SQLite recreates the still empty table, PostgreSQL alters it).
    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_children_carer_contact_id_contacts", "contacts", ["carer_contact_id"], ["id"]
        )

    op.create_table(
        "enrolments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("child_id", sa.String(length=40), nullable=False),
        sa.Column("setting_id", sa.String(length=40), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_enrolments_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["setting_id"],
            ["education_settings.id"],
            name=op.f("fk_enrolments_setting_id_education_settings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolments")),
    )
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolments_child_id"), ["child_id"], unique=False)

    op.create_table(
        "peps",
        sa.Column("id", sa.String(length=60), nullable=False),
        sa.Column("child_id", sa.String(length=40), nullable=False),
        sa.Column("care_episode_id", sa.String(length=40), nullable=True),
        sa.Column("academic_year", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=10), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("is_initial", sa.Boolean(), nullable=False),
        sa.Column("setting_id", sa.String(length=40), nullable=True),
        sa.Column("variant", sa.String(length=40), nullable=False),
        sa.Column("owner_role", sa.String(length=40), nullable=False),
        sa.Column("owner_staff_id", sa.String(length=40), nullable=True),
        sa.Column("meeting_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("form_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("form_returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finalised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["care_episode_id"],
            ["care_episodes.id"],
            name=op.f("fk_peps_care_episode_id_care_episodes"),
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_peps_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["owner_staff_id"], ["staff.id"], name=op.f("fk_peps_owner_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["setting_id"],
            ["education_settings.id"],
            name=op.f("fk_peps_setting_id_education_settings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peps")),
        sa.UniqueConstraint(
            "child_id",
            "academic_year",
            "term",
            "sequence",
            name=op.f("uq_peps_child_id_academic_year_term_sequence"),
        ),
    )
    with op.batch_alter_table("peps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_peps_child_id"), ["child_id"], unique=False)

    op.create_table(
        "document_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pep_id", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("path", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["pep_id"], ["peps.id"], name=op.f("fk_document_versions_pep_id_peps")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_versions")),
        sa.UniqueConstraint(
            "pep_id", "kind", "version", name=op.f("uq_document_versions_pep_id_kind_version")
        ),
    )
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_versions_pep_id"), ["pep_id"], unique=False)

    op.create_table(
        "mail_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("pep_id", sa.String(length=60), nullable=True),
        sa.Column("kind", sa.String(length=80), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("status_history", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pep_id"], ["peps.id"], name=op.f("fk_mail_log_pep_id_peps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_log")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_mail_log_idempotency_key")),
    )
    with op.batch_alter_table("mail_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_log_pep_id"), ["pep_id"], unique=False)

    op.create_table(
        "pep_attendees",
        sa.Column("pep_id", sa.String(length=60), nullable=False),
        sa.Column("attendee_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pep_id"], ["peps.id"], name=op.f("fk_pep_attendees_pep_id_peps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pep_id", "attendee_id", name=op.f("pk_pep_attendees")),
    )
    op.create_table(
        "pep_sections",
        sa.Column("pep_id", sa.String(length=60), nullable=False),
        sa.Column("section", sa.String(length=40), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["pep_id"], ["peps.id"], name=op.f("fk_pep_sections_pep_id_peps")),
        sa.PrimaryKeyConstraint("pep_id", "section", name=op.f("pk_pep_sections")),
    )


def downgrade() -> None:
    op.drop_table("pep_sections")
    op.drop_table("pep_attendees")
    with op.batch_alter_table("mail_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_log_pep_id"))

    op.drop_table("mail_log")
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_versions_pep_id"))

    op.drop_table("document_versions")
    with op.batch_alter_table("peps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_peps_child_id"))

    op.drop_table("peps")
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolments_child_id"))

    op.drop_table("enrolments")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_child_id"))

    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.drop_constraint("fk_children_carer_contact_id_contacts", type_="foreignkey")

    op.drop_table("contacts")
    with op.batch_alter_table("care_episodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_episodes_child_id"))

    op.drop_table("care_episodes")
    with op.batch_alter_table("term_dates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_term_dates_setting_id"))

    op.drop_table("term_dates")
    with op.batch_alter_table("staff_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_roles_role"))

    op.drop_table("staff_roles")
    with op.batch_alter_table("inset_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inset_days_setting_id"))

    op.drop_table("inset_days")
    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_children_social_worker_id"))

    op.drop_table("children")
    op.drop_table("staff")
    op.drop_table("education_settings")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_entity")

    op.drop_table("audit_log")
