"""`coursestream`: one command to run, serve, migrate and operate the platform."""

from __future__ import annotations

import importlib

import click
import uvloop
from aiohttp import web

from coursestream import registry
from shared.db import migrate as migrate_database
from shared.logging import configure_logging
from shared.settings import Settings


@click.group()
def main() -> None:
    """coursestream: an online course platform over Redis Streams."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--base-port", default=8000, show_default=True,
              help="Gateway port; services use the next ports, the gateway admin port +9.")
def up(host: str, base_port: int) -> None:
    """Migrate, load demo data once, start embedded Redis if needed, run everything."""
    from coursestream.up import run_platform

    raise SystemExit(run_platform(host, base_port))


@main.command()
@click.argument("service", type=click.Choice(list(registry.SERVICES)))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: the service's own port.")
def serve(service: str, host: str, port: int | None) -> None:
    """Run one service's HTTP server (with its stream consumers), as in a container."""
    settings = registry.settings_for(service)
    configure_logging(service, settings.log_level, settings.log_json)
    app = importlib.import_module(f"services.{service}.app").create_app(settings)
    web.run_app(app, host=host, port=port or registry.SERVICES[service],
                access_log=None, print=None, shutdown_timeout=10, loop=uvloop.new_event_loop())


@main.command()
@click.argument("name", type=click.Choice(list(registry.WORKERS)))
def worker(name: str) -> None:
    """Run one stream worker process (order-writer, sms-sender)."""
    settings = Settings()
    configure_logging(name, settings.log_level, settings.log_json)
    module = importlib.import_module(registry.WORKERS[name])
    uvloop.run(module.main())


@main.command()
@click.argument("service", required=False, type=click.Choice(registry.DATABASE_SERVICES))
def migrate(service: str | None) -> None:
    """Upgrade the database of one service, or of all."""
    for name in [service] if service else registry.available_services():
        settings = registry.settings_for(name)
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


@main.command("build-web")
def build_web() -> None:
    """Build the browser client into web/dist when it is missing or stale."""
    from coursestream.web_client import ensure_built

    click.echo("web/dist built" if ensure_built() else "web/dist is up to date")


def _add_service_commands() -> None:
    for service in registry.SERVICES:
        module = registry.optional_module(f"services.{service}.entrypoints.cli")
        for command in getattr(module, "commands", []):
            main.add_command(command)
    streams_cli = registry.optional_module("coursestream.streams_cli")
    if streams_cli is not None:
        main.add_command(streams_cli.streams)


_add_service_commands()
