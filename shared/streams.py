"""Stream housekeeping: trimming that never drops unacknowledged entries, dead letters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from shared.redis import RedisClient, text

# Retries one dead entry (redis, stream, dead entry id, its fields) and removes it from the
# dead stream when done; returns what became of it (`coursestream streams retry-dead`).
RetryDead = Callable[[RedisClient, str, str, dict[bytes, bytes]], Awaitable[str]]


def dead_stream(stream: str) -> str:
    return f"{stream}.dead"


def _id_tuple(entry_id: bytes | str) -> tuple[int, int]:
    ms, _, seq = text(entry_id).partition("-")
    return int(ms), int(seq or 0)


async def oldest_unacknowledged(redis: RedisClient, stream: str) -> str | None:
    """The smallest id some group still needs: its oldest pending entry, or the first entry
    after its last delivered one. None when no group reads the stream."""
    groups = await redis.xinfo_groups(stream)
    if not groups:
        return None
    needed: list[tuple[int, int]] = []
    for group in groups:
        if group["pending"]:
            summary = await redis.xpending(stream, group["name"])
            needed.append(_id_tuple(summary["min"]))
        else:
            ms, seq = _id_tuple(group["last-delivered-id"])
            needed.append((ms, seq + 1))
    ms, seq = min(needed)
    return f"{ms}-{seq}"


async def trim_stream(redis: RedisClient, stream: str, maxlen: int) -> int:
    """Trim to about `maxlen` entries, never past an entry a group has not acknowledged.

    Returns the number of entries removed.
    """
    length = await redis.xlen(stream)
    excess = length - maxlen
    if excess <= 0:
        return 0
    oldest_kept = await redis.xrange(stream, "-", "+", count=excess + 1)
    cutoff = _id_tuple(oldest_kept[-1][0])
    keep_from = await oldest_unacknowledged(redis, stream)
    if keep_from is not None:
        cutoff = min(cutoff, _id_tuple(keep_from))
    removed: int = await redis.xtrim(stream, minid=f"{cutoff[0]}-{cutoff[1]}", approximate=True)
    return removed


async def dead_letter(
    redis: RedisClient,
    stream: str,
    group: str,
    entry_id: str,
    fields: dict[Any, Any],
    error: str,
    deliveries: int,
) -> None:
    """Copy a failed entry, with its error and delivery count, to `<stream>.dead`, then ack it.

    Two commands, not a transaction: the streams may sit in different cluster slots. A crash
    between them leaves the entry pending, so it is dead-lettered again: at least once.
    """
    record = {
        **fields,
        "source_stream": stream,
        "source_id": entry_id,
        "group": group,
        "error": error[:2000],
        "deliveries": str(deliveries),
        "failed_at": datetime.now(UTC).isoformat(),
    }
    await redis.xadd(dead_stream(stream), record)
    await redis.xack(stream, group, entry_id)
