"""Running a parse of the source tree in a fresh interpreter.

Python 3.11's `ast.parse` can fail with "AST constructor recursion depth mismatch" once
greenlet (Playwright's sync API, in the browser tests of the same run) has switched stacks in
this one; the tests that read the code with `ast` do it in a child interpreter instead."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def in_fresh_interpreter(module: str, function: str, *args: str) -> Any:
    """`module.function(*args)` in a new Python (cwd: the project), its answer through JSON."""
    script = (f"import json, sys; from {module} import {function}; "
              f"print(json.dumps({function}(*sys.argv[1:])))")
    out = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)
