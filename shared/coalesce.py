"""One read shared by every concurrent caller, without ever serving a read older than the ask."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class CoalescedRead(Generic[T]):
    """Shares one call of `fetch` among the callers that arrived before that call started.

    A caller never gets the result of a call already under way when it asked: it waits for
    the next one. So whatever was written before a caller asked is seen (a write that has
    returned is never followed by an older read), while N concurrent callers cost one
    round trip per wave instead of N.
    """

    def __init__(self, fetch: Callable[[], Awaitable[T]]) -> None:
        self._fetch = fetch
        self._waiting: list[asyncio.Future[T]] = []  # callers of the next call
        self._runner: asyncio.Task[None] | None = None

    async def get(self) -> T:
        # One future per caller, resolved by the runner: a caller that gives up cancels only
        # its own (cheaper per caller than shielding one shared future).
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        if self._runner is None:
            self._runner = asyncio.create_task(self._run())
        return await waiter

    async def _run(self) -> None:
        wave: list[asyncio.Future[T]] = []
        try:
            while self._waiting:
                wave, self._waiting = self._waiting, []  # later callers wait for the next call
                try:
                    result = await self._fetch()
                except Exception as exc:
                    for waiter in wave:
                        if not waiter.done():
                            waiter.set_exception(exc)
                else:
                    for waiter in wave:
                        if not waiter.done():
                            waiter.set_result(result)
        finally:
            self._runner = None
            for waiter in wave + self._waiting:  # the runner itself was cancelled
                waiter.cancel()
