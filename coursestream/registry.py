"""Where each service's pieces live, by convention, so the command can find them.

A service `<name>` provides:
- `services.<name>.settings.Settings`  its typed settings;
- `services.<name>.app.create_app(settings=None)`  its aiohttp application;
- `services.<name>.demo.load_demo_data(settings) -> bool`  optional; False when already there;
- `services.<name>.entrypoints.cli.commands`  optional list of click commands or groups;
- `services.<name>.entrypoints.cli.dead_letter_retries`  optional {stream pattern: retry}
  for streams whose dead entries cannot just be put back (`streams retry-dead`).
A worker is an `async def main() -> None` in the module named below.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Any

SERVICES: dict[str, int] = {"gateway": 8000, "catalog": 8001, "seckill": 8002, "scheduler": 8003}
GATEWAY_ADMIN_PORT = 8009
DATABASE_SERVICES = ("gateway", "catalog", "seckill", "scheduler")
# Each worker serves /metrics on its own port: the setting that holds it, and the offset from
# the gateway's port that `coursestream up` gives it (8012, 8013 by default).
WORKER_METRICS_PORTS: dict[str, tuple[str, int]] = {
    "order-writer": ("ORDER_WRITER_METRICS_PORT", 12),
    "sms-sender": ("SMS_METRICS_PORT", 13),
}
WORKERS: dict[str, str] = {
    "order-writer": "services.seckill.entrypoints.order_writer",
    "sms-sender": "services.scheduler.entrypoints.sms_sender",
}


def optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def settings_for(service: str) -> Any:
    return importlib.import_module(f"services.{service}.settings").Settings()


def available_workers() -> dict[str, str]:
    return {name: mod for name, mod in WORKERS.items() if optional_module(mod) is not None}


def available_services() -> list[str]:
    return [name for name in SERVICES if optional_module(f"services.{name}.app") is not None]


def dead_letter_retry(stream: str) -> Any:
    """The service's own retry of `stream`'s dead entries, where it has one; else None."""
    for service in SERVICES:
        module = optional_module(f"services.{service}.entrypoints.cli")
        for pattern, retry in getattr(module, "dead_letter_retries", {}).items():
            if re.fullmatch(pattern, stream):
                return retry
    return None
