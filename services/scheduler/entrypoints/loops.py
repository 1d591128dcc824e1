"""The scheduler's loops on every replica: the schedule runner (works while this replica leads)
and the delay mover (always; each batch is one atomic script, so two movers never move the
same entry). Each round is one handler call; the loops only wait, wake and stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from services.scheduler.bootstrap import Runtime
from services.scheduler.domain.errors import LostLease
from services.scheduler.entrypoints.election import Election
from services.scheduler.handlers import SchedulerHandlers
from shared.logging import get_logger

log = get_logger(__name__)


class WakeableLoop:
    """A loop that sleeps between rounds, woken early by `wake.set()` (a change made on this
    replica), and stopped between rounds, never cancelled in the middle of one."""

    def __init__(self, wake: asyncio.Event) -> None:
        self.wake = wake
        self.stopping = False

    def stop(self) -> None:
        """Ask the loop to end after its current round (not by cancelling it mid-write)."""
        self.stopping = True
        self.wake.set()

    async def sleep(self, seconds: float) -> None:
        """Up to `seconds`, less when woken; not at all once stopping."""
        if self.stopping:
            return
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.wake.wait()


class ScheduleRunner(WakeableLoop):
    """The leader's loop: fire every due run once. Woken by schedule changes made through this
    replica's API."""

    def __init__(self, handlers: SchedulerHandlers, election: Election, tick_s: float) -> None:
        super().__init__(handlers.wake_runner)
        self.handlers = handlers
        self.election = election
        self.tick_s = tick_s

    async def run(self) -> None:
        while not self.stopping:
            if not self.election.leading.is_set():
                self.wake.clear()  # a follower has nothing to do on a local change
                await self.sleep(self.tick_s)
                continue
            lease = self.election.value
            if lease is None:
                continue
            self.wake.clear()  # changes made from here on wake the next wait
            try:
                pause = await self.handlers.fire_due(lease, self.tick_s)
            except LostLease:
                self.election.lost(lease)
                continue
            except Exception:
                log.exception("scheduler tick failed")
                pause = 1.0
            await self.sleep(pause)


class DelayMover(WakeableLoop):
    """Moves due delayed events to their streams. Woken when this replica stores a delay."""

    def __init__(self, handlers: SchedulerHandlers, batch: int, poll_s: float) -> None:
        super().__init__(handlers.wake_mover)
        self.handlers = handlers
        self.batch = batch
        self.poll_s = poll_s

    async def run(self) -> None:
        while not self.stopping:
            self.wake.clear()  # delays stored from here on wake the next wait
            try:
                pause = await self.handlers.move_due_delays(self.batch, self.poll_s)
            except Exception:
                log.exception("moving delayed events failed")
                pause = 1.0
            if pause <= 0 or self.stopping:
                continue
            await self.sleep(pause)


@contextlib.asynccontextmanager
async def running_loops(runtime: Runtime) -> AsyncIterator[None]:
    """Election, schedule runner and delay mover running until the block ends; then stopped by
    flags, not cancelled mid-write, and the lease released last, once this replica stopped
    firing."""
    settings = runtime.settings
    election = Election(runtime.lease, runtime.metrics, settings.scheduler_follower_poll_ms / 1000)
    runner = ScheduleRunner(runtime.handlers, election, settings.scheduler_tick_ms / 1000)
    mover = DelayMover(runtime.handlers, settings.scheduler_delay_batch,
                       settings.scheduler_delay_poll_ms / 1000)
    loops = [asyncio.create_task(runner.run()), asyncio.create_task(mover.run())]
    election_task = asyncio.create_task(election.run())
    try:
        yield
    finally:
        runner.stop()
        mover.stop()
        await _finish(loops)
        election.stop()
        await _finish([election_task])


async def _finish(tasks: list[asyncio.Task[None]], grace_s: float = 10.0) -> None:
    _, late = await asyncio.wait(tasks, timeout=grace_s)
    for task in late:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
