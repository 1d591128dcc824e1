"""CoalescedRead: concurrent callers share a read, but never one that began before they asked."""

from __future__ import annotations

import asyncio

import pytest

from shared.coalesce import CoalescedRead


class Store:
    def __init__(self) -> None:
        self.value = 0
        self.reads = 0
        self.started = asyncio.Event()
        self.gate = asyncio.Event()
        self.fail = False

    async def read(self) -> int:
        self.reads += 1
        seen = self.value  # the value at the moment the read reaches the store
        self.started.set()
        await self.gate.wait()
        if self.fail:
            raise ConnectionError("down")
        return seen


async def test_concurrent_callers_share_one_read() -> None:
    store = Store()
    read = CoalescedRead(store.read)
    callers = [asyncio.create_task(read.get()) for _ in range(100)]
    await asyncio.sleep(0)
    store.gate.set()
    assert await asyncio.gather(*callers) == [0] * 100
    assert store.reads == 1


async def test_a_caller_never_gets_a_read_that_started_before_it_asked() -> None:
    store = Store()
    read = CoalescedRead(store.read)
    early = asyncio.create_task(read.get())
    await store.started.wait()  # the first read has reached the store and seen value 0
    store.value = 1  # a write returns...
    late = asyncio.create_task(read.get())  # ...then this caller asks
    await asyncio.sleep(0)
    store.gate.set()
    assert await early == 0
    assert await late == 1
    assert store.reads == 2


async def test_errors_reach_every_caller_of_the_wave_and_the_next_wave_retries() -> None:
    store = Store()
    store.fail = True
    read = CoalescedRead(store.read)
    callers = [asyncio.create_task(read.get()) for _ in range(3)]
    await asyncio.sleep(0)
    store.gate.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    store.fail = False
    assert await read.get() == 0


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    store = Store()
    read = CoalescedRead(store.read)
    impatient, patient = asyncio.create_task(read.get()), asyncio.create_task(read.get())
    await asyncio.sleep(0)
    impatient.cancel()
    store.gate.set()
    assert await patient == 0
    with pytest.raises(asyncio.CancelledError):
        await impatient
