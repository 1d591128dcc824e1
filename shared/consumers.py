"""At-least-once stream consumption on FastStream, the same way for every consumer group.

Per stream and group, three paths feed one plain handler (`Handle`, no FastStream types):
- on start, this consumer's own pending entries (left by a crash) are read from `0` (when a
  transient error stops that, the consumer starts anyway and its housekeeping retries);
- a batch subscriber reads new entries (`XREADGROUP >`);
- a claim subscriber takes entries idle longer than `claim_idle_ms` from dead consumers
  (`XAUTOCLAIM`), one at a time; after a scan that found none it waits `claim_poll_ms`
  (a tenth of `claim_idle_ms`, at least `poll_ms`) before the next.
Entries are acknowledged only after the handler returned, so its effect must be committed
by then and be idempotent. An entry handled alone (claimed, or recovered after its batch
failed) that fails on its `max_deliveries`-th delivery goes to `<stream>.dead`, after
`on_dead` compensated it; an undecodable one at once; errors listed as `transient` (a
database that is down) never dead-letter: the entry waits in the pending list until it can
be written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisBatchStreamMessage, RedisStreamMessage
from prometheus_client import CollectorRegistry, Counter
from redis.exceptions import ResponseError

from shared.events import DEFAULT_MAXLEN, Envelope, decode_entry
from shared.logging import LogIds, get_logger, request_context
from shared.periodic import every
from shared.redis import RedisClient, text
from shared.stream_health import StreamHealthCollector, watch_health
from shared.streams import dead_letter, trim_stream
from shared.tracing import current_traceparent, trace_id, valid_traceparent

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One stream entry handed to a handler."""

    entry_id: str
    envelope: Envelope
    fields: dict[Any, Any] = field(repr=False)
    deliveries: int = 1


Handle = Callable[[Sequence[Delivery]], Awaitable[None]]
# Compensates an entry about to be dead-lettered (at least once: it must be idempotent).
# False when its effect turns out to be committed after all: it is then only acknowledged.
OnDead = Callable[[Delivery, str], Awaitable[bool]]


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.handled = Counter(
            "stream_entries_handled_total", "Entries handled and acknowledged.",
            ["stream", "group", "path"], registry=registry,
        )
        self.failed = Counter(
            "stream_entries_failed_total", "Handler failures (entry left pending).",
            ["stream", "group", "kind"], registry=registry,
        )
        self.dead = Counter(
            "stream_entries_dead_total", "Entries moved to the dead-letter stream.",
            ["stream", "group"], registry=registry,
        )
        # Lag, pending, dead letters: filled by `running`'s periodic pass.
        self.health = StreamHealthCollector(registry)


@dataclass
class StreamConsumer:
    """One consumer (by name) of one stream in one group."""

    redis: RedisClient
    stream: str
    group: str
    consumer: str
    handle: Handle
    metrics: ConsumerMetrics
    batch_size: int = 100
    poll_ms: int = 1000
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    transient: tuple[type[BaseException], ...] = ()
    on_dead: OnDead | None = None
    maxlen: int = DEFAULT_MAXLEN
    trim_every_s: float = 30.0
    revive_every_s: float = 5.0
    subscribers: list[Any] = field(default_factory=list, repr=False)

    @property
    def claim_poll_ms(self) -> int:
        """The pause after a claim scan that found nothing. An entry is claimable only after
        `claim_idle_ms`, so scanning every `poll_ms` (an `XAUTOCLAIM` each, 10 a second per
        stream for the order writer) almost always found nothing, and was more than
        half of an idle worker's CPU (the order writer's: 3.4% of a core, 1.4% after). A
        tenth of the idle time delays a dead consumer's entries by that at most; a scan that
        finds one goes on at once (FastStream waits only after an empty one)."""
        return max(self.poll_ms, self.claim_idle_ms // 10)

    def subscribe(self, broker: RedisBroker) -> None:
        """Register the new-entry and claim subscribers; call before the broker starts."""
        new_entries = broker.subscriber(
            stream=StreamSub(
                self.stream, group=self.group, consumer=self.consumer, batch=True,
                max_records=self.batch_size, polling_interval=self.poll_ms,
            ),
            title=f"{self.stream}:{self.group}",
        )
        claims = broker.subscriber(
            stream=StreamSub(
                self.stream, group=self.group, consumer=self.consumer,
                min_idle_time=self.claim_idle_ms, polling_interval=self.claim_poll_ms,
            ),
            title=f"{self.stream}:{self.group}:claims",
        )

        @new_entries
        async def on_new(msg: RedisBatchStreamMessage) -> None:
            raw = msg.raw_message
            entries = [(text(i), f) for i, f in zip(raw["message_ids"], raw["data"], strict=True)]
            await self._handle(await self._decode(entries, {}), "new")

        self.subscribers = [new_entries, claims]

        @claims
        async def on_claim(msg: RedisStreamMessage) -> None:
            entry_id = text(msg.raw_message["message_ids"][0])
            counts = {entry_id: await msg.get_delivery_count()}
            for delivery in await self._decode([(entry_id, msg.raw_message["data"])], counts):
                await self._handle_alone(delivery, "claimed")

    async def ensure_group(self) -> None:
        """Create the group at the start of the stream, so nothing written before is skipped."""
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def recover(self) -> bool:
        """Handle own pending entries; False when a transient error left them for later."""
        try:
            recovered = await self.recover_own_pending()
        except self.transient as exc:
            log.warning("own pending entries left for later; retrying", stream=self.stream,
                        error=str(exc))
            return False
        if recovered:
            log.info("recovered pending entries", stream=self.stream, count=recovered)
        return True

    async def recover_own_pending(self) -> int:
        """Handle entries this consumer name read but never acknowledged (a crash).

        Each batch is tried whole first; when it fails otherwise than transiently, each entry
        is tried alone by the claim path's rule, so one poison entry cannot stop a start: it
        is dead-lettered on its `max_deliveries`-th delivery (reading it again here counts
        as one), else left pending for the claim subscriber, like any failed entry."""
        recovered = 0
        start = "0"
        while True:
            reply = await self.redis.xreadgroup(
                self.group, self.consumer, {self.stream: start}, count=self.batch_size
            )
            entries = reply[0][1] if reply else []
            if not entries:
                return recovered
            batch = [(text(entry_id), fields) for entry_id, fields in entries]
            start = batch[-1][0]
            deliveries = await self._decode(batch, await self._delivery_counts(batch))
            try:
                await self._handle(deliveries, "recovered")
            except self.transient:
                raise
            except Exception:
                for delivery in deliveries:
                    try:
                        await self._handle_alone(delivery, "recovered")
                    except self.transient:
                        raise
                    except Exception as exc:  # left pending: the claim subscriber retries it
                        log.warning("recovered entry failed; left pending", stream=self.stream,
                                    entry_id=delivery.entry_id, error=repr(exc))
            recovered += len(batch)

    async def _delivery_counts(self, batch: list[tuple[str, dict[Any, Any]]]) -> dict[str, int]:
        """How often each entry of a batch read from this consumer's pending list was
        delivered, the read that returned it included."""
        found = await self.redis.xpending_range(
            self.stream, self.group, batch[0][0], batch[-1][0], len(batch),
            consumername=self.consumer,
        )
        return {text(e["message_id"]): int(e["times_delivered"]) for e in found}

    async def _decode(
        self, entries: list[tuple[str, dict[Any, Any]]], counts: dict[str, int]
    ) -> list[Delivery]:
        """The entries as deliveries; an undecodable one goes dead at once (no retry helps)."""
        deliveries: list[Delivery] = []
        for entry_id, fields in entries:
            count = counts.get(entry_id, 1)
            try:
                deliveries.append(Delivery(entry_id, decode_entry(fields), fields, count))
            except ValueError as exc:
                await self._dead(entry_id, fields, f"undecodable entry: {exc}", count)
        return deliveries

    async def _handle(self, deliveries: list[Delivery], path: str) -> None:
        if not deliveries:
            return
        try:
            with traced(deliveries):
                await self.handle(deliveries)
        except self.transient as exc:
            self.metrics.failed.labels(self.stream, self.group, "transient").inc()
            log.warning("batch left pending", stream=self.stream, error=str(exc))
            raise
        except Exception:
            self.metrics.failed.labels(self.stream, self.group, "error").inc()
            log.exception("batch failed", stream=self.stream, size=len(deliveries))
            raise
        await self._ack(deliveries, path)

    async def _handle_alone(self, delivery: Delivery, path: str) -> None:
        """One entry on its own. An ordinary error on its `max_deliveries`-th delivery sends
        it to the dead letters; before that, and for transient errors, it is raised and the
        entry stays pending (for the claim subscriber)."""
        try:
            with traced([delivery]):
                await self.handle([delivery])
        except self.transient:
            self.metrics.failed.labels(self.stream, self.group, "transient").inc()
            raise
        except Exception as exc:
            self.metrics.failed.labels(self.stream, self.group, "error").inc()
            if delivery.deliveries < self.max_deliveries:
                raise
            await self._dead(delivery.entry_id, delivery.fields, repr(exc),
                             delivery.deliveries, delivery)
            return
        await self._ack([delivery], path)

    async def _ack(self, deliveries: list[Delivery], path: str) -> None:
        if path == "recovered":  # FastStream acks the other paths after the handler returns
            await self.redis.xack(self.stream, self.group, *(d.entry_id for d in deliveries))
        self.metrics.handled.labels(self.stream, self.group, path).inc(len(deliveries))

    async def _dead(
        self, entry_id: str, fields: dict[Any, Any], error: str, deliveries: int,
        delivery: Delivery | None = None,
    ) -> None:
        dead = True
        if delivery is not None and self.on_dead is not None:
            dead = await self.on_dead(delivery, error)
        if not dead:  # its effect was committed after all
            await self.redis.xack(self.stream, self.group, entry_id)
            return
        log.error("dead-lettering entry", stream=self.stream, entry_id=entry_id, error=error)
        await dead_letter(self.redis, self.stream, self.group, entry_id, fields, error, deliveries)
        self.metrics.dead.labels(self.stream, self.group).inc()

    async def revive(self) -> bool:
        """Restart subscribers that stopped, the group recreated first.

        FastStream stops a subscriber for good when its group is gone (`NOGROUP`: the stream
        was deleted, or Redis came back without its data); it would never read again."""
        stopped = [s for s in self.subscribers if not s.running]
        if not stopped:
            return False
        log.error("stream subscriber stopped; recreating the group and restarting",
                  stream=self.stream, group=self.group)
        await self.ensure_group()
        for subscriber in stopped:
            await subscriber.start()
        return True

    async def housekeeping_forever(self, recovered: bool = True) -> None:
        """Every few seconds: recover own pending entries until that succeeds, revive
        stopped subscribers; trim now and then (`shared.periodic.every`: a failed pass is
        logged and tried again, and a cancel always ends it)."""
        loop = asyncio.get_running_loop()
        next_trim = loop.time() + self.trim_every_s

        async def housekeeping() -> None:
            nonlocal recovered, next_trim
            if not recovered:
                recovered = await self.recover()
            await self.revive()
            if loop.time() >= next_trim:
                next_trim = loop.time() + self.trim_every_s
                await trim_stream(self.redis, self.stream, self.maxlen)

        await asyncio.sleep(self.revive_every_s)
        await every(self.revive_every_s, housekeeping, f"stream housekeeping of {self.stream}")


@contextlib.contextmanager
def traced(deliveries: Sequence[Delivery]) -> Iterator[None]:
    """While a handler runs: its entries' trace ids on every log line (`trace_id`, or
    `trace_ids` for a batch of several traces), and their traceparent as the current one
    (envelopes built meanwhile carry it) when the batch has a single trace."""
    traceparents = sorted({valid for d in deliveries
                           if (valid := valid_traceparent(d.envelope.traceparent))})
    ids = [trace_id(t) for t in traceparents]
    context: LogIds = (
        {"trace_id": ids[0]} if len(ids) == 1 else {"trace_ids": ids} if ids else {})
    bound = request_context.set(context)
    current = current_traceparent.set(traceparents[0] if len(traceparents) == 1 else None)
    try:
        yield
    finally:
        current_traceparent.reset(current)
        request_context.reset(bound)


@contextlib.asynccontextmanager
async def running(
    broker: RedisBroker, consumers: Sequence[StreamConsumer], *,
    health_every_s: float = 15.0, also_streams: Sequence[str] = (),
) -> Any:
    """Run consumers: groups made, own pending recovered (or left to housekeeping while a
    transient error lasts, so a database that is away never stops a start), broker started,
    housekeeping on, and the stream-health pass (`STREAM_HEALTH_EVERY_S`) over their streams
    and groups, plus the length of `also_streams` (read without a group), into each
    consumer's `metrics.health`."""
    recovered = []
    for consumer in consumers:
        await consumer.ensure_group()
        recovered.append(await consumer.recover())
    await broker.start()
    housekeepers = [asyncio.create_task(c.housekeeping_forever(done))
                    for c, done in zip(consumers, recovered, strict=True)]
    targets = _health_targets(consumers, also_streams)
    housekeepers += [asyncio.create_task(watch_health(redis, streams, collector, health_every_s))
                     for collector, (redis, streams) in targets.items()]
    try:
        yield
    finally:
        for task in housekeepers:
            task.cancel()
        await asyncio.gather(*housekeepers, return_exceptions=True)
        await broker.stop()


def _health_targets(
    consumers: Sequence[StreamConsumer], also_streams: Sequence[str]
) -> dict[StreamHealthCollector, tuple[RedisClient, dict[str, list[str]]]]:
    """Per collector (one per metrics registry): a Redis client and {stream: groups}."""
    targets: dict[StreamHealthCollector, tuple[RedisClient, dict[str, list[str]]]] = {}
    for consumer in consumers:
        _, streams = targets.setdefault(consumer.metrics.health, (consumer.redis, {}))
        for stream in also_streams:
            streams.setdefault(stream, [])
        streams.setdefault(consumer.stream, []).append(consumer.group)
    return targets
