"""`coursestream`: one command to run, serve, migrate and operate the platform.

Each command imports what it uses when it runs; the services' click groups and `streams` are
imported only when one of them is run (or asked for its own help), so `coursestream --help`
imports neither a service nor SQLAlchemy, Redis, FastStream or aiohttp.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from coursestream import registry
from coursestream.addresses import use_running_platform
from coursestream.registry import Commands


class LazyGroup(click.Group):
    """A group whose `lazy` commands are imported on first use (click's lazy loading
    pattern); `--help` lists them with the short help the registry gives, importing nothing."""

    def __init__(self, *args: Any, lazy: Sequence[Commands] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = {name: source for source in lazy for name in source.short_help}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            for command in self.lazy[cmd_name].load():
                self.add_command(command)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self._listed(name)) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in rows if not command.hidden]
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit))
                                for name, command in shown])

    def _listed(self, name: str) -> click.Command:
        """The command once loaded; until then a stand-in with the registry's help (which
        click shortens as it shortens any help)."""
        return self.commands.get(name) or click.Command(name, help=self.lazy[name].short_help[name])


def _streams_commands() -> Sequence[click.Command]:
    from coursestream.streams_cli import streams

    return [streams]


STREAMS = Commands({"streams": "Inspect streams, replay ranges, retry dead letters."},
                   _streams_commands)


@click.group(cls=LazyGroup, lazy=[*(s.commands for s in registry.SERVICES.values()), STREAMS])
@click.pass_context
def main(ctx: click.Context) -> None:
    """coursestream: an online course platform over Redis Streams."""
    if ctx.invoked_subcommand != "up":  # a command beside a running `up` uses its Redis
        use_running_platform()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--base-port", default=8000, show_default=True,
              help="Gateway port; services use the next ports, the gateway admin port +9.")
@click.option("--replicas", default=1, show_default=True, type=click.IntRange(1, 9),
              help="Processes of each service and worker behind the one gateway; replica r "
                   "listens on its port + 100 * r.")
@click.option("--redis-cluster", is_flag=True,
              help="Without REDIS_URL: an embedded Redis Cluster (3 masters, 3 replicas, no "
                   "persistence) instead of the one embedded server.")
def up(host: str, base_port: int, replicas: int, redis_cluster: bool) -> None:
    """Migrate, load demo data once, start embedded Redis if needed, run everything."""
    from coursestream.up import run_platform

    raise SystemExit(run_platform(host, base_port, replicas, redis_cluster))


@main.command()
@click.argument("service", type=click.Choice(list(registry.SERVICES)))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: the service's own port.")
def serve(service: str, host: str, port: int | None) -> None:
    """Run one service's HTTP server (with its stream consumers), as in a container; SIGTERM
    drains it (DRAIN_S), then stops it within SHUTDOWN_TIMEOUT_S."""
    import uvloop

    from shared.drain import serve as serve_app
    from shared.logging import configure_logging

    entry = registry.SERVICES[service]
    settings = entry.settings()
    configure_logging(service, settings.log_level, settings.log_json)
    app = entry.app()(settings)
    uvloop.run(serve_app(app, host, port or entry.port, drain_s=settings.drain_s,
                         shutdown_timeout_s=settings.shutdown_timeout_s))


@main.command()
@click.argument("name", type=click.Choice(list(registry.WORKERS)))
def worker(name: str) -> None:
    """Run one stream worker process (order-writer, sms-sender)."""
    import uvloop

    from shared.logging import configure_logging
    from shared.settings import Settings

    settings = Settings()
    configure_logging(name, settings.log_level, settings.log_json)
    uvloop.run(registry.WORKERS[name].main()())


@main.command()
@click.argument("service", required=False, type=click.Choice(registry.DATABASE_SERVICES))
def migrate(service: str | None) -> None:
    """Upgrade the database of one service, or of all."""
    from shared.db import migrate as migrate_database

    for name in [service] if service else registry.DATABASE_SERVICES:
        settings = registry.SERVICES[name].settings()
        migrate_database(name, settings.database_url)
        click.echo(f"{name}: migrated ({settings.database_url.split('@')[-1]})")


@main.command("demo-data")
def demo_data() -> None:
    """Load the demo data into every service that has some; again is harmless (the demo
    sales get a fresh window, nothing is duplicated)."""
    from coursestream.up import load_demo_data

    for line in load_demo_data():
        click.echo(line)


@main.command()
def openapi() -> None:
    """Print the gateway's merged API document, built from the code (web/openapi.json)."""
    from coursestream.web_client import openapi_text

    click.echo(openapi_text(), nl=False)


@main.command()
def asyncapi() -> None:
    """Print the AsyncAPI 3.0 document of every stream (served at /api/v1/asyncapi.json)."""
    import orjson

    from shared.asyncapi import asyncapi_document

    click.echo(orjson.dumps(asyncapi_document(), option=orjson.OPT_INDENT_2).decode())


@main.command("build-web")
def build_web() -> None:
    """Build the browser client into web/dist when it is missing or stale."""
    from coursestream.web_client import ensure_built

    click.echo("web/dist built" if ensure_built() else "web/dist is up to date")
