"""SQL for items and orders (SQLAlchemy Core; the same statements on SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.seckill.adapters.orm import items, orders
from services.seckill.domain import HOLDING, DatabaseUnavailable, OrderStatus
from services.seckill.ports import ItemRow, NewOrder, OrderRow, Written


def utc(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; every stored time is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _item(row: Any) -> ItemRow:
    return ItemRow(row.id, row.course_id, row.title, row.price, row.stock,
                   utc(row.starts_at), utc(row.ends_at))  # type: ignore[arg-type]


def _order_row(row: Any) -> OrderRow:
    return OrderRow(row.id, row.item_id, row.user_id, row.ticket, row.price, row.status,
                    utc(row.created_at), utc(row.pay_by), utc(row.paid_at))  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def database_errors() -> AsyncIterator[None]:
    """Tell a database that cannot be reached (transient: wait and retry) from bad data."""
    try:
        yield
    except (IntegrityError, DataError):
        raise  # the data is wrong: retrying cannot help
    except (DBAPIError, PoolTimeout, OSError, TimeoutError) as exc:
        raise DatabaseUnavailable(str(exc)) from exc


class Repository:
    """`ports.OrderRepository` on SQLAlchemy; a database out of reach is DatabaseUnavailable."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @contextlib.asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        async with database_errors(), self.engine.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        async with database_errors(), self.engine.connect() as conn:
            yield conn

    # Items

    async def create_item(self, values: dict[str, Any]) -> ItemRow:
        async with self._begin() as conn:
            result = await conn.execute(
                items.insert().values(**values, created_at=datetime.now(UTC))
                .returning(*items.c)
            )
            return _item(result.one())

    async def item(self, item_id: int) -> ItemRow | None:
        async with self._connect() as conn:
            row = (await conn.execute(select(items).where(items.c.id == item_id))).first()
        return _item(row) if row else None

    async def items_page(self, offset: int, limit: int) -> tuple[int, list[ItemRow]]:
        async with self._connect() as conn:
            count = await conn.scalar(select(func.count()).select_from(items))
            rows = await conn.execute(
                select(items).order_by(items.c.starts_at.desc(), items.c.id.desc())
                .offset(offset).limit(limit)
            )
            return int(count or 0), [_item(r) for r in rows]

    async def set_window(self, item_id: int, starts_at: datetime, ends_at: datetime) -> ItemRow:
        async with self._begin() as conn:
            result = await conn.execute(
                update(items).where(items.c.id == item_id)
                .values(starts_at=starts_at, ends_at=ends_at).returning(*items.c)
            )
            return _item(result.one())

    async def all_items(self) -> list[ItemRow]:
        async with self._connect() as conn:
            return [_item(r) for r in await conn.execute(select(items).order_by(items.c.id))]

    # Orders

    async def insert_orders(self, new: Sequence[NewOrder], pay_timeout_s: int) -> Written:
        """Insert a batch in one transaction. Rows that exist already (same ticket, or a live
        order of the same buyer and item) are skipped, and so are rows beyond the item's
        stock: the database, not Redis, has the last word on stock, since Redis may lose
        its last writes and admit a unit again. Returns the orders of these tickets, new or
        old (a redelivered request finds its order again), and the tickets refused for stock.
        """
        now = datetime.now(UTC)
        pay_by = datetime.fromtimestamp(now.timestamp() + pay_timeout_s, UTC)
        rows = [
            {"item_id": o.item_id, "user_id": o.user_id, "ticket": o.ticket, "price": o.price,
             "status": OrderStatus.UNPAID.value, "created_at": now, "pay_by": pay_by}
            for o in new
        ]
        async with self._begin() as conn:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            inserted = set((await conn.execute(
                insert(orders).on_conflict_do_nothing().returning(orders.c.ticket), rows
            )).scalars())
            sold_out: list[str] = []
            for item_id in sorted({o.item_id for o in new}):  # one lock order: no deadlock
                fresh = list(dict.fromkeys(
                    o.ticket for o in new if o.item_id == item_id and o.ticket in inserted))
                if fresh:
                    sold_out += await _beyond_stock(conn, item_id, fresh)
            if sold_out:
                await conn.execute(delete(orders).where(orders.c.ticket.in_(sold_out)))
            found = await conn.execute(
                select(orders).where(orders.c.ticket.in_([o.ticket for o in new]))
            )
            return Written({r.ticket: _order_row(r) for r in found}, frozenset(sold_out))

    async def order(self, order_id: int) -> OrderRow | None:
        async with self._connect() as conn:
            return await _order(conn, order_id)

    async def orders_page(
        self, offset: int, limit: int, user_id: int | None
    ) -> tuple[int, list[OrderRow]]:
        where = [] if user_id is None else [orders.c.user_id == user_id]
        async with self._connect() as conn:
            count = await conn.scalar(select(func.count()).select_from(orders).where(*where))
            rows = await conn.execute(
                select(orders).where(*where).order_by(orders.c.id.desc())
                .offset(offset).limit(limit)
            )
            return int(count or 0), [_order_row(r) for r in rows]

    async def pay(self, order_id: int) -> tuple[OrderRow | None, bool]:
        """Unpaid and before pay_by -> paid. Returns the order afterwards, and whether this
        call changed it."""
        now = datetime.now(UTC)
        async with self._begin() as conn:
            result = await conn.execute(
                update(orders)
                .where(orders.c.id == order_id, orders.c.status == OrderStatus.UNPAID.value,
                       orders.c.pay_by > now)
                .values(status=OrderStatus.PAID.value, paid_at=now)
            )
            return await _order(conn, order_id), result.rowcount == 1

    async def expire(self, order_id: int) -> tuple[OrderRow | None, bool]:
        """Unpaid and past pay_by -> expired. Both updates are conditional on `unpaid` under
        the row's write lock, so of a racing payment and expiry exactly one changes the
        order. Returns the order afterwards, and whether this call changed it."""
        now = datetime.now(UTC)
        async with self._begin() as conn:
            result = await conn.execute(
                update(orders)
                .where(orders.c.id == order_id, orders.c.status == OrderStatus.UNPAID.value,
                       orders.c.pay_by <= now)
                .values(status=OrderStatus.EXPIRED.value, expired_at=now)
            )
            return await _order(conn, order_id), result.rowcount == 1

    async def overdue_unpaid(self, limit: int) -> list[int]:
        """Ids of unpaid orders past pay_by, oldest deadline first (the backstop sweep)."""
        async with self._connect() as conn:
            rows = await conn.execute(
                select(orders.c.id)
                .where(orders.c.status == OrderStatus.UNPAID.value,
                       orders.c.pay_by <= datetime.now(UTC))
                .order_by(orders.c.pay_by).limit(limit)
            )
            return [r.id for r in rows]

    async def holding(self, item_id: int) -> tuple[list[int], list[str]]:
        """(buyers holding a unit, tickets of expired orders) of one item."""
        async with self._connect() as conn:
            rows = (await conn.execute(
                select(orders.c.ticket, orders.c.user_id, orders.c.status)
                .where(orders.c.item_id == item_id)
            )).all()
        holders = [r.user_id for r in rows if r.status in HOLDING]
        expired = [r.ticket for r in rows if r.status == OrderStatus.EXPIRED]
        return holders, expired

    async def orders_by_ticket(self, tickets: Sequence[str]) -> dict[str, OrderRow]:
        found: dict[str, OrderRow] = {}
        async with self._connect() as conn:
            for start in range(0, len(tickets), 500):
                rows = await conn.execute(
                    select(orders).where(orders.c.ticket.in_(tickets[start:start + 500]))
                )
                found.update((r.ticket, _order_row(r)) for r in rows)
        return found


async def _beyond_stock(conn: AsyncConnection, item_id: int, fresh: list[str]) -> list[str]:
    """Of `fresh` (this transaction's new orders of the item, in request order), the last
    ones past the item's stock. The item's row is locked first (SQLite has no row locks but
    this transaction holds the database's write lock since its insert), so concurrent
    batches count one after the other, each seeing the orders of those committed before.
    PostgreSQL: `FOR NO KEY UPDATE`, which the key-share locks the inserts' foreign key
    checks took do not block (`FOR UPDATE` deadlocks two such batches)."""
    stock = await conn.scalar(
        select(items.c.stock).where(items.c.id == item_id).with_for_update(key_share=True))
    held = await conn.scalar(
        select(func.count()).select_from(orders)
        .where(orders.c.item_id == item_id, orders.c.status.in_(HOLDING)))
    excess = int(held or 0) - int(stock or 0)
    return fresh[max(0, len(fresh) - excess):] if excess > 0 else []


async def _order(conn: AsyncConnection, order_id: int) -> OrderRow | None:
    row = (await conn.execute(select(orders).where(orders.c.id == order_id))).first()
    return _order_row(row) if row else None
