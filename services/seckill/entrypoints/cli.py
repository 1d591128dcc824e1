"""`coursestream seckill warm | reconcile [--fix]`: operating the sale's Redis state."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from redis.asyncio import Redis

from services.seckill import handlers
from services.seckill.adapters.keys import ORDERS_STREAM, Keys
from services.seckill.adapters.repository import Repository
from services.seckill.adapters.sale_store import SaleStore
from services.seckill.settings import Settings
from shared.db import make_engine
from shared.redis import make_redis
from shared.streams import dead_stream

T = TypeVar("T")


async def _with_adapters(
    settings: Settings, use: Callable[[Repository, SaleStore], Awaitable[T]]
) -> T:
    redis = make_redis(settings.require_redis_url())
    engine = make_engine(settings.database_url)
    try:
        store = SaleStore(redis, Keys(settings.seckill_partitions), settings.ticket_ttl_s)
        return await use(Repository(engine), store)
    finally:
        await redis.aclose()
        await engine.dispose()


@click.group()
def seckill() -> None:
    """Flash-sale operations."""


@seckill.command()
@click.option("--force", is_flag=True,
              help="Reload items already in Redis too (only when no sale is running).")
def warm(force: bool) -> None:
    """Load items into Redis from the database (after a Redis loss): stock minus orders."""
    lines = asyncio.run(_with_adapters(
        Settings(), lambda repo, store: handlers.warm(repo, store, force)))
    for line in lines:
        click.echo(line)


@seckill.command()
@click.option("--fix", is_flag=True, help="Shift Redis stock by the drift found.")
def reconcile(fix: bool) -> None:
    """Check orders + Redis stock + pending requests = stock for every item."""
    figures = asyncio.run(_with_adapters(
        Settings(), lambda repo, store: handlers.reconcile(repo, store, fix)))
    click.echo(f"{'item':>6} {'stock':>7} {'orders':>7} {'redis':>7} {'pending':>7} {'drift':>6}")
    drifted = 0
    for f in figures:
        redis = "-" if f.remaining is None else str(f.remaining)
        click.echo(f"{f.item_id:>6} {f.stock:>7} {f.orders:>7} {redis:>7} {f.pending:>7} "
                   f"{f.drift:>+6}{'  fixed' if fix and f.drift else ''}")
        drifted += bool(f.drift)
    if drifted and not fix:
        raise SystemExit(1)


async def retry_dead_request(
    redis: Redis, stream: str, entry_id: str, fields: dict[bytes, bytes]
) -> str:
    """`coursestream streams retry-dead` on an order stream: admitted again, or refused."""
    settings = Settings()
    store = SaleStore(redis, Keys(settings.seckill_partitions), settings.ticket_ttl_s)
    return await handlers.retry_dead_request(store, dead_stream(stream), entry_id, fields)


commands = [seckill]
dead_letter_retries = {ORDERS_STREAM.pattern: retry_dead_request}
