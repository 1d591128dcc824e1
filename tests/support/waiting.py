"""Bounded waiting for a condition that becomes true asynchronously."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(
    predicate: Callable[[], Awaitable[bool]], within: float = 10.0, every: float = 0.05
) -> None:
    """Poll `predicate` until it is true; fail the test after `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while not await predicate():  # noqa: ASYNC110 - polls an outside system
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"condition not met within {within} s") from None
