"""The services and workers the `coursestream` command runs, as typed static entries.

Each entry holds small functions that import what they return when called, so reading an
entry shows where its piece lives, mypy checks it, and `coursestream --help` imports no
service (their click groups are listed from `Commands.short_help` until one is run). A service
`<name>` provides:
- `services.<name>.settings.Settings`  its typed settings;
- `services.<name>.app.create_app(settings=None)`  its aiohttp application;
- `services.<name>.demo.load_demo_data(settings) -> bool`  optional; False when already there;
- `services.<name>.entrypoints.cli.commands`  its click commands or groups;
- `services.<name>.entrypoints.cli.dead_letter_retries`  optional {stream pattern: retry}
  for streams whose dead entries cannot just be put back (`streams retry-dead`).
A worker is an `async def main() -> None` in its service's `entrypoints/`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import click
    from aiohttp import web

    from services.catalog.settings import Settings as CatalogSettings
    from services.gateway.settings import Settings as GatewaySettings
    from services.scheduler.settings import Settings as SchedulerSettings
    from services.seckill.settings import Settings as SeckillSettings
    from shared.settings import ServiceSettings
    from shared.streams import RetryDead

S = TypeVar("S", bound="ServiceSettings")


@dataclass(frozen=True)
class Commands:
    """Click commands a module provides: their names with the short help `--help` shows
    (before, and without, importing the module), and the function that imports them."""

    short_help: Mapping[str, str]
    load: Callable[[], Sequence[click.Command]]


@dataclass(frozen=True)
class Service(Generic[S]):
    """A service: its default port, and functions importing its settings, app factory, click
    commands, demo data loader and dead-letter retries, each only when called."""

    name: str
    port: int
    settings: Callable[[], S]
    app: Callable[[], Callable[[S], web.Application]]
    commands: Commands
    demo: Callable[[], Callable[[S], Coroutine[Any, Any, bool]]] | None = None
    dead_letter_retries: Callable[[], Mapping[str, RetryDead]] | None = None


@dataclass(frozen=True)
class Worker:
    """A stream worker process: `main()` imports its `async def main()`."""

    name: str
    main: Callable[[], Callable[[], Coroutine[Any, Any, None]]]
    # /metrics port: the setting that holds it, and the offset from the gateway's port that
    # `coursestream up` gives it (8012, 8013 by default).
    metrics_port_setting: str
    metrics_port_offset: int


def _gateway_settings() -> GatewaySettings:
    from services.gateway.settings import Settings

    return Settings()


def _gateway_app() -> Callable[[GatewaySettings], web.Application]:
    from services.gateway.app import create_app

    return create_app


def _gateway_demo() -> Callable[[GatewaySettings], Coroutine[Any, Any, bool]]:
    from services.gateway.demo import load_demo_data

    return load_demo_data


def _gateway_commands() -> Sequence[click.Command]:
    from services.gateway.entrypoints.cli import commands

    return commands


def _catalog_settings() -> CatalogSettings:
    from services.catalog.settings import Settings

    return Settings()


def _catalog_app() -> Callable[[CatalogSettings], web.Application]:
    from services.catalog.app import create_app

    return create_app


def _catalog_demo() -> Callable[[CatalogSettings], Coroutine[Any, Any, bool]]:
    from services.catalog.demo import load_demo_data

    return load_demo_data


def _catalog_commands() -> Sequence[click.Command]:
    from services.catalog.entrypoints.cli import commands

    return commands


def _seckill_settings() -> SeckillSettings:
    from services.seckill.settings import Settings

    return Settings()


def _seckill_app() -> Callable[[SeckillSettings], web.Application]:
    from services.seckill.app import create_app

    return create_app


def _seckill_demo() -> Callable[[SeckillSettings], Coroutine[Any, Any, bool]]:
    from services.seckill.demo import load_demo_data

    return load_demo_data


def _seckill_commands() -> Sequence[click.Command]:
    from services.seckill.entrypoints.cli import commands

    return commands


def _seckill_dead_letter_retries() -> Mapping[str, RetryDead]:
    from services.seckill.entrypoints.cli import dead_letter_retries

    return dead_letter_retries


def _scheduler_settings() -> SchedulerSettings:
    from services.scheduler.settings import Settings

    return Settings()


def _scheduler_app() -> Callable[[SchedulerSettings], web.Application]:
    from services.scheduler.app import create_app

    return create_app


def _scheduler_commands() -> Sequence[click.Command]:
    from services.scheduler.entrypoints.cli import commands

    return commands


def _order_writer() -> Callable[[], Coroutine[Any, Any, None]]:
    from services.seckill.entrypoints.order_writer import main

    return main


def _sms_sender() -> Callable[[], Coroutine[Any, Any, None]]:
    from services.scheduler.entrypoints.sms_sender import main

    return main


# Each entry is its own constant so that mypy checks it against its own settings type.
GATEWAY = Service(
    "gateway", 8000, _gateway_settings, _gateway_app,
    Commands({"users": "Manage the gateway's users."}, _gateway_commands),
    demo=_gateway_demo,
)
CATALOG = Service(
    "catalog", 8001, _catalog_settings, _catalog_app,
    Commands({"catalog": "Catalog operations."}, _catalog_commands),
    demo=_catalog_demo,
)
SECKILL = Service(
    "seckill", 8002, _seckill_settings, _seckill_app,
    Commands({"seckill": "Flash-sale operations."}, _seckill_commands),
    demo=_seckill_demo,
    dead_letter_retries=_seckill_dead_letter_retries,
)
SCHEDULER = Service(  # no demo data: its app syncs the built-in schedules at start
    "scheduler", 8003, _scheduler_settings, _scheduler_app,
    Commands({"schedules": "Schedules of the scheduler service."}, _scheduler_commands),
)
ORDER_WRITER = Worker("order-writer", _order_writer, "ORDER_WRITER_METRICS_PORT", 12)
SMS_SENDER = Worker("sms-sender", _sms_sender, "SMS_METRICS_PORT", 13)

# In start order; `coursestream up` gives them the gateway's port and the next ones.
SERVICES: dict[str, Service[Any]] = {s.name: s for s in (GATEWAY, CATALOG, SECKILL, SCHEDULER)}
WORKERS: dict[str, Worker] = {w.name: w for w in (ORDER_WRITER, SMS_SENDER)}
DATABASE_SERVICES = tuple(SERVICES)  # each service owns its database
GATEWAY_ADMIN_PORT = 8009
# The e2e and deployment tests read the workers' ports and the services' names this way.
WORKER_METRICS_PORTS: dict[str, tuple[str, int]] = {
    w.name: (w.metrics_port_setting, w.metrics_port_offset) for w in WORKERS.values()
}


def available_services() -> list[str]:
    """Every service's name, in start order."""
    return list(SERVICES)


def dead_letter_retry(stream: str) -> RetryDead | None:
    """The service's own retry of `stream`'s dead entries, where it has one; else None."""
    for service in SERVICES.values():
        if service.dead_letter_retries is None:
            continue
        for pattern, retry in service.dead_letter_retries().items():
            if re.fullmatch(pattern, stream):
                return retry
    return None
