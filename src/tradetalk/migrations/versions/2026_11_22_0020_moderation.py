"""moderation

Revision ID: 0020
Revises: 0001
Create Date: 2026-11-22 01:27:37.592323
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tradetalk.kit.orm import UTCDateTime

revision = "0020"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "moderation_actions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("item_id", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_actions")),
    )
    with op.batch_alter_table("moderation_actions", schema=None) as batch_op:
        batch_op.create_index("ix_moderation_actions_subject", ["subject_id", "id"], unique=False)

    op.create_table(
        "restrictions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("lifted_at", UTCDateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_restrictions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restrictions")),
    )
    with op.batch_alter_table("restrictions", schema=None) as batch_op:
        batch_op.create_index("ix_restrictions_user", ["user_id", "created_at"], unique=False)

    op.create_table(
        "user_blocks",
        sa.Column("blocker_id", sa.String(length=64), nullable=False),
        sa.Column("blocked_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blocked_id"], ["users.id"], name=op.f("fk_user_blocks_blocked_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["blocker_id"], ["users.id"], name=op.f("fk_user_blocks_blocker_id_users")
        ),
        sa.PrimaryKeyConstraint("blocker_id", "blocked_id", name=op.f("pk_user_blocks")),
    )
    op.create_table(
        "moderation_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("original_text", sa.Text(), nullable=True),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("client_message_id", sa.String(length=100), nullable=True),
        sa.Column("reporter_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_moderation_items_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_moderation_items_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["users.id"], name=op.f("fk_moderation_items_reporter_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["users.id"], name=op.f("fk_moderation_items_subject_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_items")),
    )
    with op.batch_alter_table("moderation_items", schema=None) as batch_op:
        batch_op.create_index("ix_moderation_items_queue", ["status", "id"], unique=False)
        batch_op.create_index("ix_moderation_items_subject", ["subject_id", "id"], unique=False)

    op.create_table(
        "strikes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("dismissed_at", UTCDateTime(), nullable=True),
        sa.Column("dismissed_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["moderation_items.id"],
            name=op.f("fk_strikes_item_id_moderation_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_strikes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strikes")),
    )
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.create_index("ix_strikes_user_created", ["user_id", "created_at"], unique=False)

    # Plain index creation: a batch (table-copying) alter would drop the FTS triggers.
    op.create_index(
        "ix_messages_sender_recent", "messages", ["conversation_id", "sender_id", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_messages_sender_recent", table_name="messages")

    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.drop_index("ix_strikes_user_created")

    op.drop_table("strikes")
    with op.batch_alter_table("moderation_items", schema=None) as batch_op:
        batch_op.drop_index("ix_moderation_items_subject")
        batch_op.drop_index("ix_moderation_items_queue")

    op.drop_table("moderation_items")
    op.drop_table("user_blocks")
    with op.batch_alter_table("restrictions", schema=None) as batch_op:
        batch_op.drop_index("ix_restrictions_user")

    op.drop_table("restrictions")
    with op.batch_alter_table("moderation_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_moderation_actions_subject")

    op.drop_table("moderation_actions")
