"""Demo data: three flash sales on the catalog's demo courses, so `./dev up` shows a sale live
now, one about to start, and one over (the catalog's demo banner "Flash sale" points at them).

A demo sale's window is set again from the present on every start (`coursestream up` calls
this each time), so the demo never runs out of time: while every sale is one of these, the
missing ones are created too; an operator's sale is never moved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.seckill import handlers
from services.seckill.bootstrap import bootstrap
from services.seckill.entrypoints.schemas import ItemIn
from services.seckill.ports import ItemRow
from services.seckill.settings import Settings


@dataclass(frozen=True, slots=True)
class DemoSale:
    """A sale known by its course and title; its window is relative to the start."""

    course_id: int
    title: str
    price: Decimal
    stock: int
    starts_in: timedelta
    lasts: timedelta

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        return now + self.starts_in, now + self.starts_in + self.lasts

    def matches(self, item: ItemRow) -> bool:
        return (item.course_id, item.title) == (self.course_id, self.title)


# The catalog's demo courses: 13 and 14 are its first hands-on courses (39.90, 99.00),
# 15 the third (199.00).
LIVE = DemoSale(13, "Flash sale: a hands-on course at 9.90", Decimal("9.90"), 100,
                starts_in=timedelta(0), lasts=timedelta(days=7))
UPCOMING = DemoSale(14, "Next flash sale: a 99.00 course at 19.90", Decimal("19.90"), 50,
                    starts_in=timedelta(minutes=5), lasts=timedelta(days=2))
ENDED = DemoSale(15, "Last week's flash sale: a 199.00 course at 49.90", Decimal("49.90"), 30,
                 starts_in=-timedelta(days=3), lasts=timedelta(days=2))
DEMO_SALES = (LIVE, UPCOMING, ENDED)


async def load_demo_data(settings: Settings, now: datetime | None = None) -> bool:
    """Create the demo sales (stock in Redis too) or move their windows to `now`; True when
    any sale was created, False when they were all there already."""
    now = now or datetime.now(UTC)
    async with bootstrap(settings) as rt:
        repo, store = rt.repo, rt.store
        items = await repo.all_items()
        only_demo = all(any(sale.matches(item) for sale in DEMO_SALES) for item in items)
        created = False
        for sale in DEMO_SALES:
            starts_at, ends_at = sale.window(now)
            found = [item for item in items if sale.matches(item)]
            for item in found:
                await handlers.move_window(repo, store, item.id, starts_at, ends_at)
            if not found and only_demo:
                values = ItemIn(course_id=sale.course_id, title=sale.title, price=sale.price,
                                stock=sale.stock, starts_at=starts_at, ends_at=ends_at)
                await handlers.create_item(repo, store, values.model_dump())
                created = True
        return created
