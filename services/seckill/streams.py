"""Every stream and consumer group of the seckill service, named from the registry
(`shared.event_types`).

The order streams carry the item's hash tag `{pN}` (N = item_id % partitions): the admission
script writes its request in the slot of the item's other keys (`adapters/keys.py`).
"""

from __future__ import annotations

import re

from shared import event_types as registry

# `order.requested`, written by the admission script (adapters/lua/admit.lua); one per partition.
ORDERS_STREAM = re.compile(re.escape(registry.SECKILL_ORDERS.key).replace(
    re.escape("{partition}"), r"\{p\d+\}"))
(ORDER_WRITER_GROUP,) = registry.SECKILL_ORDERS.groups
# `order.expire`, `orders.sweep-expired`, from the scheduler; read by the HTTP app.
SECKILL_COMMANDS = registry.SECKILL_COMMANDS.key
(COMMANDS_GROUP,) = registry.SECKILL_COMMANDS.groups
ORDER_EXPIRE = registry.ORDER_EXPIRE.name
SWEEP_EXPIRED = registry.SWEEP_EXPIRED.name
# `order.created`, `order.rejected`, `order.paid`, `order.expired`: audit and replay, no group.
SECKILL_EVENTS = registry.SECKILL_EVENTS.key
ORDER_CREATED = registry.ORDER_CREATED.name
ORDER_REJECTED = registry.ORDER_REJECTED.name
ORDER_PAID = registry.ORDER_PAID.name
ORDER_EXPIRED = registry.ORDER_EXPIRED.name
# Where the scheduler takes delay requests (`delay.requested`: an order's expiry at pay_by).
SCHEDULER_REQUESTS = registry.SCHEDULER_REQUESTS.key
DELAY_REQUESTED = registry.DELAY_REQUESTED.name


def orders_stream(partition: int) -> str:
    return registry.SECKILL_ORDERS.key.replace("{partition}", f"{{p{partition}}}")


def dead_orders_stream(partition: int) -> str:
    from shared.streams import dead_stream  # imports redis: not when the CLI only lists

    return dead_stream(orders_stream(partition))


def all_orders_streams(partitions: int) -> list[str]:
    return [orders_stream(p) for p in range(partitions)]
