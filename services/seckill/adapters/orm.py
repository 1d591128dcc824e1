"""The seckill database: items and the orders the order writer inserts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator


class Money(TypeDecorator[Decimal]):
    """Decimal money stored as integer cents: exact on every backend (SQLite has no
    decimal type)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        return None if value is None else int(Decimal(value).scaleb(2).to_integral_exact())

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(int(value)).scaleb(-2)


metadata = MetaData()

BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER only

items = Table(
    "seckill_items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("course_id", BigInteger, nullable=False),
    Column("title", String(200), nullable=False),
    Column("price", Money, nullable=False),
    Column("stock", Integer, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("stock >= 0", name="ck_seckill_items_stock"),
    CheckConstraint("ends_at > starts_at", name="ck_seckill_items_window"),
)

orders = Table(
    "seckill_orders",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("item_id", BigId, ForeignKey("seckill_items.id"), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("ticket", String(64), nullable=False),
    Column("price", Money, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("pay_by", DateTime(timezone=True), nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    Column("expired_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("status IN ('unpaid', 'paid', 'expired')", name="ck_seckill_orders_status"),
    UniqueConstraint("ticket", name="uq_seckill_orders_ticket"),
    # One live order per buyer and item; an expired order frees the buyer to try again.
    Index(
        "uq_seckill_orders_item_user_live", "item_id", "user_id", unique=True,
        sqlite_where=text("status != 'expired'"), postgresql_where=text("status != 'expired'"),
    ),
    Index("ix_seckill_orders_user", "user_id", "id"),
    Index("ix_seckill_orders_item_status", "item_id", "status"),
)
