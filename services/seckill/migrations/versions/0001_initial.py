"""initial: seckill items and orders

Revision ID: 0001
Revises:
Create Date: 2026-11-24 11:38:01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LIVE = sa.text("status != 'expired'")


def upgrade() -> None:
    op.create_table(
        "seckill_items",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("course_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),  # cents (orm.Money)
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name="ck_seckill_items_window"),
        sa.CheckConstraint("stock >= 0", name="ck_seckill_items_stock"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "seckill_orders",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("ticket", sa.String(length=64), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),  # cents (orm.Money)
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pay_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('unpaid', 'paid', 'expired')", name="ck_seckill_orders_status"
        ),
        sa.ForeignKeyConstraint(["item_id"], ["seckill_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket", name="uq_seckill_orders_ticket"),
    )
    op.create_index("ix_seckill_orders_item_status", "seckill_orders", ["item_id", "status"])
    op.create_index("ix_seckill_orders_user", "seckill_orders", ["user_id", "id"])
    op.create_index(
        "uq_seckill_orders_item_user_live", "seckill_orders", ["item_id", "user_id"],
        unique=True, sqlite_where=LIVE, postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_table("seckill_orders")
    op.drop_table("seckill_items")
