"""The stop-and-wake scaffolding of the scheduler's two loops (schedule runner, delay mover)."""

from __future__ import annotations

import asyncio
import contextlib


class WakeableLoop:
    """A loop that sleeps between rounds, woken early by `wake.set()` (a change made on this
    replica), and stopped between rounds, never cancelled in the middle of one."""

    def __init__(self) -> None:
        self.wake = asyncio.Event()
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
