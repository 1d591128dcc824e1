"""Debian packages a test set-up needs (Chromium, wrk), installed when missing."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def apt_install(*packages: str) -> None:
    """Install Debian packages when we are root; refresh the package lists once if needed."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    install = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if subprocess.run(install, check=False, capture_output=True, timeout=600).returncode:
        subprocess.run(["apt-get", "update"], check=False, capture_output=True, timeout=600)
        subprocess.run(install, check=False, capture_output=True, timeout=600)


def ensure_command(command: str, package: str) -> str:
    """The path of `command`, installing `package` first when it is missing; fails the test
    (never skips it) when it cannot be had."""
    if not shutil.which(command):
        apt_install(package)
    path = shutil.which(command)
    if path is None:
        pytest.fail(f"no {command} on PATH and apt-get could not install it: "
                    f"apt-get install -y {package}")
    return path
