"""`coursestream streams ...`: look into streams, replay ranges, handle dead letters."""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import click

from coursestream import registry
from shared.events import DATA_FIELD, decode_entry
from shared.redis import RedisClient, make_redis, text
from shared.settings import Settings
from shared.stream_health import read_health
from shared.streams import RetryDead, dead_stream

MAX_SEQ = 2**64 - 1


def with_redis(func: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async command body with a Redis client from the settings."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        async def run() -> None:
            redis = make_redis(Settings().require_redis_url())
            try:
                await func(redis, *args, **kwargs)
            finally:
                await redis.aclose()

        asyncio.run(run())

    return wrapper


def stream_id(value: str, *, end: bool = False) -> str:
    """An entry id, `-`/`+`, or an RFC 3339 time turned into the ids of that millisecond."""
    if value in {"-", "+"} or re.fullmatch(r"\d+(-\d+)?", value):
        return value
    ms = int(datetime.fromisoformat(value).timestamp() * 1000)
    return f"{ms}-{MAX_SEQ if end else 0}"


def render(entry_id: bytes, fields: dict[bytes, bytes]) -> str:
    extra = {k.decode(): v.decode() for k, v in fields.items() if k.decode() != DATA_FIELD}
    try:
        body: Any = decode_entry(fields).model_dump(mode="json")
    except ValueError:
        body = None
    return json.dumps({"entry_id": entry_id.decode(), "envelope": body, **extra},
                      ensure_ascii=False)


@click.group()
def streams() -> None:
    """Inspect streams, replay ranges, retry dead letters."""


@streams.command("ls")
@with_redis
async def list_streams(redis: RedisClient) -> None:
    """Every stream with its length, and each group's lag, pending entries, oldest pending
    age, consumers and dead letters (the figures of the `stream_*` gauges)."""
    names = sorted([text(key) async for key in redis.scan_iter(_type="stream", count=1000)])
    for health in await read_health(redis, dict.fromkeys(names)):
        click.echo(f"{health.stream}\tlength={health.length}"
                   + ("" if health.groups else "\tno groups"))
        for g in health.groups:
            click.echo(f"  {g.group}\tlag={'?' if g.lag is None else g.lag}"
                       f"\tpending={g.pending}\toldest_pending_s={g.oldest_pending_s:.1f}"
                       f"\tconsumers={g.consumers}\tdead={g.dead_letters}")


@streams.command()
@click.argument("stream")
@click.option("--start", default="-", help="Entry id or RFC 3339 time.")
@click.option("--end", default="+", help="Entry id or RFC 3339 time.")
@click.option("--count", default=20, show_default=True)
@with_redis
async def show(redis: RedisClient, stream: str, start: str, end: str, count: int) -> None:
    """Entries of a range, decoded, one JSON line each."""
    for entry_id, fields in await redis.xrange(stream, stream_id(start),
                                               stream_id(end, end=True), count=count):
        click.echo(render(entry_id, fields))


@streams.command()
@click.argument("stream")
@with_redis
async def tail(redis: RedisClient, stream: str) -> None:
    """Follow new entries until Ctrl-C."""
    last = "$"
    while True:
        for _, entries in await redis.xread({stream: last}, block=5000) or []:
            for entry_id, fields in entries:
                click.echo(render(entry_id, fields))
                last = entry_id.decode()


@streams.command()
@click.argument("stream")
@click.argument("group")
@click.option("--count", default=20, show_default=True)
@with_redis
async def pending(redis: RedisClient, stream: str, group: str, count: int) -> None:
    """A group's pending entries: consumer, idle time, deliveries."""
    summary = await redis.xpending(stream, group)
    click.echo(f"pending={summary['pending']} min={summary['min']} max={summary['max']}")
    for row in await redis.xpending_range(stream, group, "-", "+", count):
        click.echo(f"{row['message_id'].decode()}\tconsumer={row['consumer'].decode()}"
                   f"\tidle_ms={row['time_since_delivered']}\tdeliveries={row['times_delivered']}")


@streams.command()
@click.argument("stream")
@click.option("--start", default="-", help="Entry id or RFC 3339 time.")
@click.option("--end", default="+", help="Entry id or RFC 3339 time.")
@click.option("--into", "into", default=None, help="Copy the range into this new stream.")
@click.option("--group", default=None, help="Make a debug group (name starts with debug-) "
              "positioned just before --start on the stream itself.")
@with_redis
async def replay(
    redis: RedisClient, stream: str, start: str, end: str, into: str | None, group: str | None
) -> None:
    """Re-read a range without touching the production groups."""
    if (into is None) == (group is None):
        raise click.UsageError("give exactly one of --into or --group")
    first, last = stream_id(start), stream_id(end, end=True)
    if group is not None:
        if not group.startswith("debug-"):
            raise click.UsageError("a replay group's name must start with debug-")
        entries = await redis.xrange(stream, first, last, count=1)
        if not entries:
            raise click.ClickException("no entries in that range")
        ms, seq = entries[0][0].decode().split("-")
        before = f"{ms}-{int(seq) - 1}" if int(seq) else f"{int(ms) - 1}-{MAX_SEQ}"
        await redis.xgroup_create(stream, group, id=before)
        click.echo(f"group {group} on {stream} reads from {entries[0][0].decode()}")
        return
    assert into is not None
    if await redis.exists(into):
        raise click.ClickException(f"{into} exists; replay into a new stream")
    copied, cursor = 0, first
    while batch := await redis.xrange(stream, cursor, last, count=500):
        for _entry_id, fields in batch:
            await redis.xadd(into, fields)
        copied += len(batch)
        cursor = "(" + batch[-1][0].decode()  # exclusive: continue after the last copied
    click.echo(f"copied {copied} entries into {into}")


@streams.command()
@click.argument("stream")
@click.option("--count", default=20, show_default=True)
@with_redis
async def dead(redis: RedisClient, stream: str, count: int) -> None:
    """Dead letters of a stream, with their error and delivery count."""
    for entry_id, fields in await redis.xrange(dead_stream(stream), count=count):
        click.echo(render(entry_id, fields))


async def put_back(
    redis: RedisClient, stream: str, entry_id: str, fields: dict[bytes, bytes]
) -> str:
    """The plain retry: the entry again on its stream (a new entry), then out of the dead."""
    new_id = await redis.xadd(stream, {DATA_FIELD: fields[DATA_FIELD.encode()]})
    await redis.xdel(dead_stream(stream), entry_id)
    return f"put back as {new_id.decode()}"


@streams.command("retry-dead")
@click.argument("stream")
@click.option("--id", "entry_ids", multiple=True, help="Dead entry id (repeat); default all.")
@with_redis
async def retry_dead(redis: RedisClient, stream: str, entry_ids: tuple[str, ...]) -> None:
    """Retry dead entries: put back on their stream, or, where the service says how (a
    seckill order request takes its unit of stock again or is refused), its own way."""
    retry: RetryDead = registry.dead_letter_retry(stream) or put_back
    entries = await redis.xrange(dead_stream(stream))
    chosen = [e for e in entries if not entry_ids or e[0].decode() in entry_ids]
    for entry_id, fields in chosen:
        click.echo(f"{entry_id.decode()}\t{await retry(redis, stream, entry_id.decode(), fields)}")
    click.echo(f"retried {len(chosen)} entries on {stream}")
