"""One Redis pub/sub connection per process for every ticket event stream (SSE).

A stream per pub/sub connection let one user holding a few hundred streams take the pool's
connections from everyone's admissions. Here a channel is subscribed while it has listeners
(SUBSCRIBE for the first, UNSUBSCRIBE after the last), and one reader task fans each notice
out to the channel's listeners. Only that task touches the connection (redis-py's `PubSub`
is not safe for concurrent use), so a new channel is subscribed at its next turn, within
`poll_s`. A subscription's confirmation wakes the channel's listeners as a notice does: a
listener reads its ticket after it is surely subscribed, and again after a reconnect, so a
notice published while the connection was down is never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from redis.utils import str_if_bytes

from shared.logging import get_logger
from shared.redis import RedisClient

log = get_logger(__name__)


class Listener:
    """One stream's wait on its channel."""

    def __init__(self) -> None:
        self._woken = asyncio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def wait(self) -> None:
        """Until woken (a notice, or the channel subscribed again) since the last wait: then
        read the ticket again."""
        await self._woken.wait()
        self._woken.clear()


class TicketChannels:
    def __init__(self, redis: RedisClient, poll_s: float = 0.1, retry_s: float = 1.0) -> None:
        self._redis = redis
        self._pubsub = redis.pubsub()
        self._poll_s = poll_s
        self._retry_s = retry_s
        self._listeners: dict[str, set[Listener]] = {}
        self._subscribed: set[str] = set()
        self._reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read_forever())

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self._pubsub.aclose()

    def wake_all(self) -> None:
        """Wake every listener (the server is stopping: each stream reads its ticket once more
        and ends)."""
        for listeners in self._listeners.values():
            for listener in listeners:
                listener.wake()

    @contextlib.contextmanager
    def listen(self, channel: str) -> Iterator[Listener]:
        """A listener on `channel` for the duration of the block."""
        listener = Listener()
        self._listeners.setdefault(channel, set()).add(listener)
        try:
            yield listener
        finally:
            listeners = self._listeners[channel]
            listeners.discard(listener)
            if not listeners:
                del self._listeners[channel]

    async def _read_forever(self) -> None:
        while True:
            try:
                # The first SUBSCRIBE connects (a cluster's pub/sub picks its node then).
                await self._follow_listeners()
                if not self._subscribed:
                    await asyncio.sleep(self._poll_s)
                    continue
                message = await self._pubsub.get_message(timeout=self._poll_s)
                if message is not None and message["type"] in ("message", "subscribe"):
                    await self._dispatch(str_if_bytes(message["channel"]))
            except Exception as exc:  # Redis away: start again on a new connection
                log.warning("ticket pub/sub connection lost; reconnecting", error=str(exc))
                self._subscribed = set()
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()
                self._pubsub = self._redis.pubsub()  # on a cluster: maybe another node now
                await asyncio.sleep(self._retry_s)

    async def _follow_listeners(self) -> None:
        """Subscribe the channels that got listeners, unsubscribe those that lost them."""
        wanted = set(self._listeners)
        if gone := self._subscribed - wanted:
            await self._pubsub.unsubscribe(*gone)
        if new := wanted - self._subscribed:
            await self._pubsub.subscribe(*new)
        self._subscribed = wanted

    async def _dispatch(self, channel: str) -> None:
        if channel in self._subscribed:
            for listener in self._listeners.get(channel, ()):
                listener.wake()
        else:  # left over from a reconnect inside redis-py, which subscribes again to all
            await self._pubsub.unsubscribe(channel)
