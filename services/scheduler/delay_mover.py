"""Moves due delayed events to their streams, on every replica (each batch is one atomic
script, so two movers never move the same entry)."""

from __future__ import annotations

import time

from services.scheduler.adapters.delay_store import DelayStore
from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.wakeable import WakeableLoop
from shared.logging import get_logger

log = get_logger(__name__)


class DelayMover(WakeableLoop):
    """Woken when this replica stores a delay."""

    def __init__(
        self, store: DelayStore, metrics: SchedulerMetrics, batch: int, poll_s: float
    ) -> None:
        super().__init__()
        self.store = store
        self.metrics = metrics
        self.batch = batch
        self.poll_s = poll_s

    async def run(self) -> None:
        while not self.stopping:
            self.wake.clear()  # delays stored from here on wake the next wait
            try:
                pause = await self.move_once()
            except Exception:
                log.exception("moving delayed events failed")
                pause = 1.0
            if pause <= 0 or self.stopping:
                continue
            await self.sleep(pause)

    async def move_once(self) -> float:
        """Move one batch; return how long to wait before the next."""
        moved = await self.store.move_due(self.batch)
        if moved.moved:
            self.metrics.delays_moved.inc(moved.moved)
            for late_ms in moved.lateness_ms:
                self.metrics.lateness.labels("delay").observe(late_ms / 1000)
        if moved.looked_at >= self.batch:
            return 0.0
        next_due, pending = await self.store.peek()
        self.metrics.pending_delays.set(pending)
        if next_due is None:
            return self.poll_s
        return min(self.poll_s, max(0.0, next_due / 1000 - time.time()))
