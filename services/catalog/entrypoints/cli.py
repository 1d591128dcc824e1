"""`coursestream catalog rebuild-banners | banner-cache`: operating the banner cache.

Importing this module stays cheap (the `coursestream` command lists it on every start): the
runtime, Redis and the cache's keys are imported by the commands that use them.
"""

from __future__ import annotations

import asyncio

import click

from services.catalog.streams import COMMANDS_STREAM, REBUILD_BANNERS


@click.group()
def catalog() -> None:
    """Catalog operations."""


@catalog.command("rebuild-banners")
def rebuild_banners() -> None:
    """Ask the catalog (group `catalog` on catalog.commands) to rebuild the banner cache."""
    from services.catalog.bootstrap import bootstrap
    from services.catalog.settings import Settings
    from shared.events import Envelope, publish

    async def send() -> str:
        async with bootstrap(Settings()) as runtime:
            return await publish(runtime.redis, COMMANDS_STREAM,
                                 Envelope(type=REBUILD_BANNERS, producer="cli"))

    click.echo(f"{REBUILD_BANNERS} sent to {COMMANDS_STREAM} as {asyncio.run(send())}")


@catalog.command("banner-cache")
def banner_cache() -> None:
    """Show the banner cache in Redis: the version, and whether the stored copy matches it."""
    import orjson

    from services.catalog.adapters.page_cache import COPY_KEY, VERSION_KEY
    from services.catalog.bootstrap import bootstrap
    from services.catalog.settings import Settings

    async def read() -> tuple[bytes | None, bytes | None]:
        async with bootstrap(Settings()) as runtime:
            version, copy = await runtime.redis.mget(VERSION_KEY, COPY_KEY)
            return version, copy

    version, raw = asyncio.run(read())
    click.echo(f"version: {version.decode() if version else '(none)'}")
    if raw is None:
        click.echo("copy: (none)")
        return
    copy = orjson.loads(raw)
    state = "current" if version and copy["version"] == version.decode() else "stale, unserved"
    click.echo(f"copy: {len(copy['value'])} banners, version {copy['version']} ({state})")


commands = [catalog]
