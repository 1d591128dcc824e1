"""The import rules of docs/contributing.md, checked on the source: what may import what.

Read from the files (ast), so a rule broken in a module no test imports still fails here."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from tests.support.fresh import in_fresh_interpreter

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "app.py").exists())
HTTP = ("aiohttp", "shared.http", "shared.problems")


def _imports(source: str) -> list[str]:
    """Every module a source imports, top level or inside functions, as dotted names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return sorted(found)


def _imports_of(*files: str) -> dict[str, list[str]]:
    return {f: _imports(Path(f).read_text()) for f in files}


@functools.cache
def _all_imports() -> dict[str, list[str]]:
    """Parsed in a fresh interpreter (tests/support/fresh.py)."""
    files = [str(p) for folder in ("services", "shared") for p in (ROOT / folder).rglob("*.py")]
    return dict(in_fresh_interpreter("tests.test_layers", "_imports_of", *files))


def imports(path: Path) -> set[str]:
    return set(_all_imports()[str(path)])


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


def layer(path: Path, service: str) -> str:
    """`entrypoints`, `adapters`, `handlers`, `ports`, `domain` (domain, errors, streams), or
    `root` (app, bootstrap, settings, demo: the composition root and its helpers)."""
    parts = path.relative_to(ROOT / "services" / service).parts
    top = parts[0].removesuffix(".py")
    if top in ("entrypoints", "adapters", "handlers", "ports"):
        return top
    if top in ("domain", "streams", "errors"):
        return "domain"
    return "root"


def service_files(service: str) -> list[Path]:
    return [p for p in (ROOT / "services" / service).rglob("*.py") if "migrations" not in p.parts]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_never_imports_another_service(service: str) -> None:
    others = tuple(f"services.{s}" for s in SERVICES if s != service)
    broken = {str(p.relative_to(ROOT)): sorted(n for n in imports(p) if within(n, *others))
              for p in service_files(service)}
    assert not {k: v for k, v in broken.items() if v}


@pytest.mark.parametrize("service", SERVICES)
def test_only_entrypoints_and_the_composition_root_speak_http(service: str) -> None:
    """Handlers, the domain and ports raise domain errors; status codes and problems live in
    `entrypoints/` (and `app.py`, which builds the application from them). Adapters may be
    HTTP clients (aiohttp) but never answer with problems."""
    broken = {}
    for path in service_files(service):
        kind = layer(path, service)
        if kind in ("entrypoints", "root"):
            continue
        banned = HTTP if kind != "adapters" else HTTP[1:]
        found = sorted(n for n in imports(path) if within(n, *banned))
        if found:
            broken[str(path.relative_to(ROOT))] = found
    assert not broken


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_depends_on_nothing_outside_it(service: str) -> None:
    """The domain imports no adapter, no entrypoint, no I/O library. Ports may name the rows
    they return (the service's ORM classes, `adapters/orm.py`), nothing else of the adapters."""
    own = f"services.{service}"
    broken = {}
    for path in service_files(service):
        kind = layer(path, service)
        if kind not in ("domain", "ports"):
            continue
        allowed = (f"{own}.adapters.orm",) if kind == "ports" else ()
        found = sorted(n for n in imports(path) if within(
            n, f"{own}.adapters", f"{own}.entrypoints", f"{own}.handlers", "sqlalchemy",
            "redis", "faststream", *HTTP) and not within(n, *allowed))
        if found:
            broken[str(path.relative_to(ROOT))] = found
    assert not broken


def test_shared_never_imports_a_service_or_the_command() -> None:
    broken = {str(p.relative_to(ROOT)): sorted(n for n in imports(p)
                                                if within(n, "services", "coursestream"))
              for p in (ROOT / "shared").rglob("*.py")}
    assert not {k: v for k, v in broken.items() if v}
