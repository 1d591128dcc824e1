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
        self._waiting: asyncio.Future[T] | None = None
        self._runner: asyncio.Task[None] | None = None

    async def get(self) -> T:
        if self._waiting is None:
            self._waiting = asyncio.get_running_loop().create_future()
            if self._runner is None:
                self._runner = asyncio.create_task(self._run())
        # A caller that gives up must not cancel the read the others wait for.
        return await asyncio.shield(self._waiting)

    async def _run(self) -> None:
        try:
            while (wave := self._waiting) is not None:
                self._waiting = None  # callers from now on wait for the next call
                try:
                    wave.set_result(await self._fetch())
                except Exception as exc:
                    wave.set_exception(exc)
                    wave.exception()  # retrieved: callers that gave up do not leave a warning
        finally:
            self._runner = None
