"""Stream health, the one home for it: length, and per consumer group lag, pending entries,
the age of the oldest pending one, consumers and dead letters.

`read_health` is one `XINFO` pass over some streams (a few commands per stream and group);
`coursestream streams ls` prints it, and every process that consumes streams runs
`watch_health` on its loop: the pass every `STREAM_HEALTH_EVERY_S`, its last result exported
by `StreamHealthCollector` as the gauges `stream_length{stream}`, `stream_group_lag`,
`stream_group_pending`, `stream_group_oldest_pending_seconds`, `stream_group_consumers` and
`stream_dead_letters` (labels `stream`, `group`). A scrape only renders the last pass, so no
scrape costs Redis anything, and a group or stream that is gone leaves no stale series.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import ResponseError

from shared.periodic import every
from shared.redis import RedisClient, text
from shared.streams import dead_stream

DEAD_PAGE = 1000


@dataclass(frozen=True, slots=True)
class GroupHealth:
    group: str
    # Entries not yet delivered to the group; None where Redis cannot tell (a group created
    # at an arbitrary id, entries deleted from the middle).
    lag: int | None
    pending: int  # delivered, not acknowledged
    oldest_pending_s: float  # age of the oldest pending entry (by its id's time); 0 if none
    consumers: int
    dead_letters: int  # entries of this group in `<stream>.dead`


@dataclass(frozen=True, slots=True)
class StreamHealth:
    stream: str
    length: int
    groups: tuple[GroupHealth, ...]


def _id_ms(entry_id: Any) -> int:
    return int(text(entry_id).partition("-")[0])


async def read_health(
    redis: RedisClient, streams: Mapping[str, Iterable[str] | None]
) -> list[StreamHealth]:
    """One pass over `streams` ({stream: its groups to report, or None for all of them});
    a stream that does not exist is skipped, and so is a group it does not have."""
    now_ms = _redis_now_ms(await redis.time())
    found = []
    for stream, wanted in streams.items():
        if not await redis.exists(stream):
            continue
        length = await redis.xlen(stream)
        try:
            infos: list[dict[Any, Any]] = await redis.xinfo_groups(stream)
        except ResponseError:  # not a stream
            continue
        chosen = None if wanted is None else set(wanted)
        groups = [g for g in infos if chosen is None or text(g["name"]) in chosen]
        dead = await _dead_letters(redis, stream, len(infos),
                                   [text(g["name"]) for g in groups])
        healths = []
        for info in groups:
            name = text(info["name"])
            oldest = 0.0
            if info["pending"]:
                summary = await redis.xpending(stream, name)
                if summary["min"] is not None:
                    oldest = max(0.0, (now_ms - _id_ms(summary["min"])) / 1000)
            lag = info.get("lag")
            healths.append(GroupHealth(
                group=name, lag=None if lag is None else int(lag),
                pending=int(info["pending"]), oldest_pending_s=oldest,
                consumers=int(info["consumers"]), dead_letters=dead[name],
            ))
        found.append(StreamHealth(stream, int(length), tuple(healths)))
    return found


def _redis_now_ms(reply: tuple[int, int]) -> int:
    """Redis's own clock (entry ids are made from it), so another host's clock is no matter."""
    seconds, micros = reply
    return int(seconds) * 1000 + int(micros) // 1000


async def _dead_letters(
    redis: RedisClient, stream: str, group_count: int, groups: Sequence[str]
) -> dict[str, int]:
    """Dead letters per group. One group on the stream: the dead stream's length. Several:
    each dead entry names its group, so the dead stream is read (dead letters are few)."""
    key = dead_stream(stream)
    if group_count <= 1:
        total = int(await redis.xlen(key)) if groups else 0
        return dict.fromkeys(groups, total)
    counts = dict.fromkeys(groups, 0)
    cursor = "-"
    while entries := await redis.xrange(key, cursor, "+", count=DEAD_PAGE):
        for _entry_id, fields in entries:
            group = text(fields.get(b"group", b""))
            if group in counts:
                counts[group] += 1
        cursor = "(" + text(entries[-1][0])
    return counts


class StreamHealthCollector(Collector):
    """The six stream-health gauges, rendered from the last pass given to `update`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.last: list[StreamHealth] = []
        registry.register(self)

    def update(self, healths: list[StreamHealth]) -> None:
        self.last = healths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        group_labels = ["stream", "group"]
        length = GaugeMetricFamily("stream_length", "Entries in the stream.", labels=["stream"])
        lag = GaugeMetricFamily("stream_group_lag", "Entries not yet delivered to the group "
                                "(NaN where Redis cannot tell).", labels=group_labels)
        pending = GaugeMetricFamily("stream_group_pending", "Entries delivered to the group "
                                    "and not acknowledged.", labels=group_labels)
        oldest = GaugeMetricFamily("stream_group_oldest_pending_seconds", "Age of the "
                                   "group's oldest unacknowledged entry.", labels=group_labels)
        consumers = GaugeMetricFamily("stream_group_consumers", "Consumers in the group.",
                                      labels=group_labels)
        dead = GaugeMetricFamily("stream_dead_letters", "Entries of the group in the "
                                 "stream's dead-letter stream.", labels=group_labels)
        for health in self.last:
            length.add_metric([health.stream], health.length)
            for g in health.groups:
                labels = [health.stream, g.group]
                lag.add_metric(labels, float("nan") if g.lag is None else g.lag)
                pending.add_metric(labels, g.pending)
                oldest.add_metric(labels, g.oldest_pending_s)
                consumers.add_metric(labels, g.consumers)
                dead.add_metric(labels, g.dead_letters)
        yield from (length, lag, pending, oldest, consumers, dead)


async def watch_health(
    redis: RedisClient, streams: Mapping[str, Iterable[str] | None],
    collector: StreamHealthCollector, every_s: float,
) -> None:
    """Forever: one pass over `streams` into `collector`, then wait `every_s`. A failed pass
    (Redis away) keeps the last figures and is logged; the next one tries again."""

    async def one_pass() -> None:
        collector.update(await read_health(redis, streams))

    await every(every_s, one_pass, "stream health")
