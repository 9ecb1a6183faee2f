"""offers and shipping updates

Revision ID: 0030
Revises: 0001
Create Date: 2026-11-22 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tradetalk.kit.orm import UTCDateTime

revision = "0030"
down_revision = "0001"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("maker_id", sa.String(length=64), nullable=False),
        sa.Column("maker_role", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("in_reply_to", sa.BigInteger(), nullable=True),
        sa.Column("superseded_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_offers_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_offers_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["maker_id"], ["users.id"], name=op.f("fk_offers_maker_id_users")),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["users.id"], name=op.f("fk_offers_recipient_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["in_reply_to"], ["offers.id"], name=op.f("fk_offers_in_reply_to_offers")
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by"], ["offers.id"], name=op.f("fk_offers_superseded_by_offers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
        sa.UniqueConstraint("message_id", name=op.f("uq_offers_message_id")),
    )
    op.create_index(
        "uq_offers_open_per_conversation",
        "offers",
        ["conversation_id"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_index(
        "ix_offers_conversation_id_id", "offers", ["conversation_id", "id"], unique=False
    )

    op.create_table(
        "shipping_updates",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("posted_by", sa.String(length=64), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=64), nullable=False),
        sa.Column("tracking_number", sa.String(length=40), nullable=False),
        sa.Column("tracking_url", sa.String(length=300), nullable=True),
        sa.Column("check_digit_verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_shipping_updates_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_shipping_updates_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["posted_by"], ["users.id"], name=op.f("fk_shipping_updates_posted_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipping_updates")),
        sa.UniqueConstraint(
            "conversation_id",
            "tracking_number",
            name=op.f("uq_shipping_updates_conversation_id_tracking_number"),
        ),
        sa.UniqueConstraint("message_id", name=op.f("uq_shipping_updates_message_id")),
    )


def downgrade() -> None:
    op.drop_table("shipping_updates")
    op.drop_index("ix_offers_conversation_id_id", table_name="offers")
    op.drop_index("uq_offers_open_per_conversation", table_name="offers")
    op.drop_table("offers")
