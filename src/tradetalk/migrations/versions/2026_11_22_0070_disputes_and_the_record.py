"""disputes and the record

Revision ID: 0070
Revises: 0001
Create Date: 2026-11-22 01:27:24.483466
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tradetalk.kit.orm import UTCDateTime

revision = "0070"
down_revision = "0001"
branch_labels = None
depends_on = None

# The record is append-only: the database itself refuses to rewrite an entry or an earlier
# version, whatever the application does (rows still go when the purge deletes a conversation).
APPEND_ONLY_TABLES = ("record_entries", "message_versions")


def _big_id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "audit_log",
        _big_id(),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(
        "ix_audit_log_conversation_id_id", "audit_log", ["conversation_id", "id"], unique=False
    )

    op.create_table(
        "disputes",
        _big_id(),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("open_for", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_disputes_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint("open_for", name=op.f("uq_disputes_open_for")),
    )
    op.create_index(
        "ix_disputes_transaction_id_opened_at",
        "disputes",
        ["transaction_id", "opened_at"],
        unique=False,
    )

    op.create_table(
        "record_entries",
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_record_entries_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "position", name=op.f("pk_record_entries")),
    )

    op.create_table(
        "support_grants",
        _big_id(),
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("granted_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_support_grants_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_support_grants_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_grants")),
    )
    op.create_index(
        "ix_support_grants_lookup",
        "support_grants",
        ["conversation_id", "user_id", "expires_at"],
        unique=False,
    )

    op.create_table(
        "message_versions",
        _big_id(),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("shown_from", UTCDateTime(), nullable=False),
        sa.Column("replaced_at", UTCDateTime(), nullable=False),
        sa.Column("replaced_because", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_versions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_versions")),
        sa.UniqueConstraint(
            "message_id", "version", name=op.f("uq_message_versions_message_id_version")
        ),
    )

    # Plain ADD COLUMN, not batch mode: rebuilding `messages` on SQLite would drop the search
    # triggers that keep messages_fts in step.
    op.add_column("messages", sa.Column("edited_at", UTCDateTime(), nullable=True))
    op.add_column(
        "messages",
        sa.Column("edit_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("messages", sa.Column("withdrawn_at", UTCDateTime(), nullable=True))

    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} BEGIN "
                f"SELECT RAISE(ABORT, 'the record is append-only: {table} cannot be updated'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION tradetalk_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'the record is append-only: % cannot be updated', "
            "TG_TABLE_NAME; END $$"
        )
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION tradetalk_refuse_update()"
            )


def downgrade() -> None:
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"DROP TRIGGER IF EXISTS {table}_append_only"
            + ("" if op.get_bind().dialect.name == "sqlite" else f" ON {table}")
        )
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS tradetalk_refuse_update()")
    with op.batch_alter_table("messages", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("edit_count")
        batch_op.drop_column("edited_at")
    op.drop_table("message_versions")
    op.drop_index("ix_support_grants_lookup", table_name="support_grants")
    op.drop_table("support_grants")
    op.drop_table("record_entries")
    op.drop_index("ix_disputes_transaction_id_opened_at", table_name="disputes")
    op.drop_table("disputes")
    op.drop_index("ix_audit_log_conversation_id_id", table_name="audit_log")
    op.drop_table("audit_log")
