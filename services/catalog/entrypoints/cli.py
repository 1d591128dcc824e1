"""`coursestream catalog rebuild-banners | banner-cache`: operating the banner cache."""

from __future__ import annotations

import asyncio

import click
import orjson

from services.catalog.adapters.banner_cache import COPY_KEY, VERSION_KEY
from services.catalog.domain import COMMANDS_STREAM, REBUILD_BANNERS
from services.catalog.settings import Settings
from shared.events import Envelope, publish
from shared.redis import make_redis


@click.group()
def catalog() -> None:
    """Catalog operations."""


@catalog.command("rebuild-banners")
def rebuild_banners() -> None:
    """Ask the catalog (group `catalog` on catalog.commands) to rebuild the banner cache."""

    async def send() -> str:
        redis = make_redis(Settings().require_redis_url())
        try:
            return await publish(redis, COMMANDS_STREAM,
                                 Envelope(type=REBUILD_BANNERS, producer="cli"))
        finally:
            await redis.aclose()

    click.echo(f"{REBUILD_BANNERS} sent to {COMMANDS_STREAM} as {asyncio.run(send())}")


@catalog.command("banner-cache")
def banner_cache() -> None:
    """Show the banner cache in Redis: the version, and whether the stored copy matches it."""

    async def read() -> tuple[bytes | None, bytes | None]:
        redis = make_redis(Settings().require_redis_url())
        try:
            version, copy = await redis.mget(VERSION_KEY, COPY_KEY)
            return version, copy
        finally:
            await redis.aclose()

    version, raw = asyncio.run(read())
    click.echo(f"version: {version.decode() if version else '(none)'}")
    if raw is None:
        click.echo("copy: (none)")
        return
    copy = orjson.loads(raw)
    state = "current" if version and copy["version"] == version.decode() else "stale, unserved"
    click.echo(f"copy: {len(copy['banners'])} banners, version {copy['version']} ({state})")


commands = [catalog]
