"""`coursestream seckill warm | reconcile [--fix]`: operating the sale's Redis state.

Importing this module is cheap (the `coursestream` command imports it to list its commands):
the adapters are imported inside the commands that use them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from services.seckill.streams import ORDERS_STREAM

if TYPE_CHECKING:
    from services.seckill.bootstrap import Runtime

T = TypeVar("T")


async def _with_runtime(use: Callable[[Runtime], Awaitable[T]]) -> T:
    from services.seckill.bootstrap import bootstrap
    from services.seckill.settings import Settings

    async with bootstrap(Settings()) as runtime:
        return await use(runtime)


@click.group()
def seckill() -> None:
    """Flash-sale operations."""


@seckill.command()
@click.option("--force", is_flag=True,
              help="Reload items already in Redis too (only when no sale is running).")
def warm(force: bool) -> None:
    """Load items into Redis from the database (after a Redis loss): stock minus orders."""
    from services.seckill import handlers

    lines = asyncio.run(_with_runtime(lambda rt: handlers.warm(rt.repo, rt.store, force)))
    for line in lines:
        click.echo(line)


@seckill.command()
@click.option("--fix", is_flag=True, help="Shift Redis stock by the drift found.")
def reconcile(fix: bool) -> None:
    """Check orders + Redis stock + pending requests = stock for every item."""
    from services.seckill import handlers

    figures = asyncio.run(_with_runtime(lambda rt: handlers.reconcile(rt.repo, rt.store, fix)))
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
    redis: Any, stream: str, entry_id: str, fields: dict[bytes, bytes]
) -> str:
    """`coursestream streams retry-dead` on an order stream: admitted again, or refused.
    (`redis` is the command's own client; the service's runtime has its own, on the same
    REDIS_URL.)"""
    from services.seckill import handlers
    from shared.streams import dead_stream

    return await _with_runtime(lambda rt: handlers.retry_dead_request(
        rt.store, rt.publisher, dead_stream(stream), entry_id, fields))


commands = [seckill]
dead_letter_retries = {ORDERS_STREAM.pattern: retry_dead_request}
