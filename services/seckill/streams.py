"""Every stream and consumer group of the seckill service, in one place.

The order streams carry the item's hash tag `{pN}` (N = item_id % partitions): the admission
script writes its request in the slot of the item's other keys (`adapters/keys.py`).
"""

from __future__ import annotations

import re

# `order.requested`, written by the admission script (adapters/lua/admit.lua); one per partition.
ORDERS_STREAM = re.compile(r"seckill:\{p\d+\}:orders")
ORDER_WRITER_GROUP = "order-writer"
# `order.expire`, `orders.sweep-expired`, from the scheduler; read by the HTTP app.
SECKILL_COMMANDS = "seckill.commands"
COMMANDS_GROUP = "seckill"
# `order.created`, `order.rejected`, `order.paid`, `order.expired`: audit and replay, no group.
SECKILL_EVENTS = "seckill.events"
# Where the scheduler takes delay requests (`delay.requested`: an order's expiry at pay_by).
SCHEDULER_REQUESTS = "scheduler.requests"


def orders_stream(partition: int) -> str:
    return f"seckill:{{p{partition}}}:orders"


def dead_orders_stream(partition: int) -> str:
    from shared.streams import dead_stream  # imports redis: not when the CLI only lists

    return dead_stream(orders_stream(partition))


def all_orders_streams(partitions: int) -> list[str]:
    return [orders_stream(p) for p in range(partitions)]
