"""The `coursestream` command's registry, and what its start-up imports (issue 17)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from coursestream import registry
from coursestream.cli import STREAMS, main

HEAVY = ("sqlalchemy", "redis", "faststream", "aiohttp", "alembic", "services")

# Runs the command in a fresh interpreter; prints what it wrote and every module it imported.
PROBE = """
import contextlib, io, json, sys
from coursestream.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(sys.argv[1:], prog_name="coursestream")
    except SystemExit as exit:
        assert not exit.code, out.getvalue()
print(json.dumps({"output": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def run_probe(*args: str) -> tuple[str, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          check=True)
    result = json.loads(done.stdout)
    return result["output"], {m.split(".")[0] for m in result["modules"]} | set(result["modules"])


def test_help_lists_every_command_and_imports_no_service_nor_heavy_library() -> None:
    output, modules = run_probe("--help")
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    listed = dict(line.split(maxsplit=1) for line in output.split("Commands:\n")[1].splitlines())
    assert set(listed) == {"up", "serve", "worker", "migrate", "demo-data", "openapi", "asyncapi",
                           "build-web", "streams", "users", "catalog", "seckill", "schedules"}
    assert listed["users"] == "Manage the gateway's users."


@pytest.mark.parametrize(("service", "group"), [
    (service.name, name) for service in registry.SERVICES.values()
    for name in service.commands.short_help
])
def test_a_service_group_imports_its_own_service_only(service: str, group: str) -> None:
    output, modules = run_probe(group, "--help")
    assert output.startswith(f"Usage: coursestream {group} ")
    assert {m.split(".")[1] for m in modules if m.startswith("services.")} <= {service}


@pytest.mark.parametrize("commands", [*(s.commands for s in registry.SERVICES.values()), STREAMS])
def test_the_registry_lists_each_group_with_the_help_it_carries(
    commands: registry.Commands,
) -> None:
    loaded = {command.name: command for command in commands.load()}
    assert set(loaded) == set(commands.short_help)
    for name, text in commands.short_help.items():
        assert click.Command(name, help=text).get_short_help_str() == (
            loaded[name].get_short_help_str())


@pytest.mark.parametrize("name", list(registry.SERVICES))
def test_each_service_entry_gives_its_own_pieces(name: str) -> None:
    entry = registry.SERVICES[name]
    settings = entry.settings()
    assert type(settings).__module__ == f"services.{name}.settings"
    assert entry.app().__module__ == f"services.{name}.app"
    if entry.demo is not None:
        assert entry.demo().__module__ == f"services.{name}.demo"
        assert asyncio.iscoroutinefunction(entry.demo())
    assert all(c.name in entry.commands.short_help for c in entry.commands.load())


def test_each_worker_entry_is_an_async_main_of_its_service() -> None:
    for worker in registry.WORKERS.values():
        main_ = worker.main()
        assert main_.__name__ == "main" and asyncio.iscoroutinefunction(main_)
        assert main_.__module__.replace("_", "-").endswith(worker.name)


def test_the_seckill_order_streams_have_their_own_dead_letter_retry() -> None:
    from services.seckill.entrypoints.cli import dead_letter_retries

    [retry] = dead_letter_retries.values()
    assert registry.dead_letter_retry("seckill:{p3}:orders") is retry
    assert registry.dead_letter_retry("catalog.commands") is None


def test_serve_and_worker_offer_every_entry() -> None:
    for command, names in (("serve", registry.SERVICES), ("worker", registry.WORKERS)):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0 and "|".join(names) in result.output
