"""A background pass repeated on a process's loop (stream health, seckill's invariant)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from shared.logging import get_logger

log = get_logger(__name__)


async def every(seconds: float, job: Callable[[], Awaitable[None]], name: str) -> None:
    """Run `job`, then wait `seconds`, until cancelled. A failed run is logged and the next
    one tries again.

    A cancel that arrives while redis-py waits on a connection can come out as another error,
    or not at all (the command just returns): the task's `cancelling()` count still says
    so, and is checked after each run, so that cancelling the task always ends it."""
    task = asyncio.current_task()
    while True:
        try:
            await job()
        except Exception as exc:
            if task is None or not task.cancelling():
                log.warning("periodic pass failed", job=name, error=repr(exc))
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        await asyncio.sleep(seconds)
