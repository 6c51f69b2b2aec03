"""Records store: the mail outbox (full messages waiting for the sender).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mail_log_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=True),
        sa.Column("reply_to", sa.String(length=254), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("recipient_party_id", sa.String(length=40), nullable=True),
        sa.Column("recipient_role", sa.String(length=40), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=True),
        # the exact MIME bytes, built once when queued (none when an attachment is a
        # stored-document reference, or after the recipients were changed)
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("process_instance_key", sa.BigInteger(), nullable=True),
        sa.Column("element_id", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["mail_log_id"], ["mail_log.id"], name=op.f("fk_mail_outbox_mail_log_id_mail_log"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        sa.UniqueConstraint("mail_log_id", name=op.f("uq_mail_outbox_mail_log_id")),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_mail_outbox_due", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "mail_outbox_attachments",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("document_version_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(content IS NULL) <> (document_version_id IS NULL)",
            name=op.f("ck_mail_outbox_attachments_bytes_or_document"),
        ),
        sa.ForeignKeyConstraint(
            ["document_version_id"], ["document_versions.id"],
            name=op.f("fk_mail_outbox_attachments_document_version_id_document_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["mail_outbox.id"],
            name=op.f("fk_mail_outbox_attachments_outbox_id_mail_outbox"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("outbox_id", "position", name=op.f("pk_mail_outbox_attachments")),
    )
    with op.batch_alter_table("mail_outbox_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_outbox_attachments_document_version_id"),
            ["document_version_id"], unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_outbox_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_outbox_attachments_document_version_id"))
    op.drop_table("mail_outbox_attachments")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_outbox_due")
    op.drop_table("mail_outbox")
