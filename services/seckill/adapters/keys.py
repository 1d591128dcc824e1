"""Every Redis key and channel of the seckill service, in one place.

All keys of one item carry the hash tag `{pN}` (N = item_id % partitions), so an admission,
a dead letter and a returned unit each touch a single cluster slot.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.seckill import streams
from services.seckill.domain import partition_of, ticket_item_id

PREFIX = "seckill"


@dataclass(frozen=True, slots=True)
class Keys:
    partitions: int

    def tag(self, item_id: int) -> str:
        return f"{{p{partition_of(item_id, self.partitions)}}}"

    def _p(self, partition: int) -> str:
        return f"{PREFIX}:{{p{partition}}}"

    def item(self, item_id: int) -> str:
        return f"{PREFIX}:{self.tag(item_id)}:item:{item_id}"

    def buyers(self, item_id: int) -> str:
        return f"{PREFIX}:{self.tag(item_id)}:buyers:{item_id}"

    def released(self, item_id: int) -> str:
        """Orders whose unit already went back to stock (makes the return idempotent)."""
        return f"{PREFIX}:{self.tag(item_id)}:released:{item_id}"

    def ticket(self, ticket: str) -> str:
        return f"{PREFIX}:{self.tag(ticket_item_id(ticket))}:ticket:{ticket}"

    def ticket_channel(self, ticket: str) -> str:
        """Pub/sub channel told when the ticket becomes final."""
        return f"{self.ticket(ticket)}:final"

    def idempotency(self, item_id: int, user_id: int, key: str) -> str:
        return f"{PREFIX}:{self.tag(item_id)}:idem:{item_id}:{user_id}:{key}"

    def index(self, item_id: int) -> str:
        """Ids of the items loaded in this item's partition (404 vs not-ready without SQL)."""
        return f"{PREFIX}:{self.tag(item_id)}:items"

    def loaded(self, item_id: int) -> str:
        """Set when the partition was loaded; absent after a Redis loss: fail closed (503)."""
        return self.partition_loaded(partition_of(item_id, self.partitions))

    def partition_loaded(self, partition: int) -> str:
        return f"{self._p(partition)}:loaded"

    def orders_stream(self, partition: int) -> str:
        return streams.orders_stream(partition)

    def orders_stream_of(self, item_id: int) -> str:
        return self.orders_stream(partition_of(item_id, self.partitions))

    def dead_stream(self, partition: int) -> str:
        return streams.dead_orders_stream(partition)

    def all_orders_streams(self) -> list[str]:
        return streams.all_orders_streams(self.partitions)
