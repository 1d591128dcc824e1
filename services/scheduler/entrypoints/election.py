"""Leader election: one replica holds the lease and runs the schedules; the others wait.

The leader renews every third of the lease; a follower tries to take it every
`follower_poll_s`, so a dead leader is replaced within lease + poll (3.5 s by default).
A leader that stops cleanly releases the lease at once.
"""

from __future__ import annotations

import asyncio
import contextlib

from redis.exceptions import RedisError

from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.ports import LeaderLease
from shared.logging import get_logger

log = get_logger(__name__)


class Election:
    def __init__(
        self, lease: LeaderLease, metrics: SchedulerMetrics, follower_poll_s: float
    ) -> None:
        self.lease = lease
        self.metrics = metrics
        self.follower_poll_s = follower_poll_s
        self.value: str | None = None  # the lease value while leading
        self.leading = asyncio.Event()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """End the loop and release the lease (if held) so a follower takes over at once."""
        self._stop.set()

    def lost(self, value: str) -> None:
        if self.value == value:
            log.warning("leadership lost", lease=value)
            self.value = None
            self.leading.clear()
            self.metrics.leader.set(0)

    async def run(self) -> None:
        renew_every = self.lease.lease_ms / 3000
        try:
            while not self._stop.is_set():
                if self.value is None:
                    await self._try_acquire()
                else:
                    await self._renew(self.value)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(
                        renew_every if self.value else self.follower_poll_s
                    ):
                        await self._stop.wait()
        finally:
            if self.value is not None:
                value, self.value = self.value, None
                self.leading.clear()
                self.metrics.leader.set(0)
                try:
                    await asyncio.shield(self.lease.release(value))
                except (RedisError, OSError):
                    log.warning("could not release the lease; it expires by itself")

    async def _try_acquire(self) -> None:
        try:
            value = await self.lease.acquire()
        except (RedisError, OSError) as exc:
            log.warning("lease acquire failed", error=str(exc))
            return
        if value is not None:
            log.info("leadership acquired", lease=value)
            self.value = value
            self.leading.set()
            self.metrics.leader.set(1)

    async def _renew(self, value: str) -> None:
        try:
            renewed = await self.lease.renew(value)
        except (RedisError, OSError) as exc:
            log.warning("lease renew failed", error=str(exc))
            renewed = False
        if not renewed:
            self.lost(value)
