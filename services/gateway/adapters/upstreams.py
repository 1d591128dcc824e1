"""The upstream pools of the proxy, kept current: replicas from the settings and from DNS,
active `/readyz` checks, and the gauges of each replica's state (docs/gateway.md,
"Upstreams")."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence

import aiohttp
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from yarl import URL

from services.gateway.adapters.replicas import Policy, Pool
from shared.logging import get_logger

log = get_logger(__name__)


class Upstreams:
    """One pool per public path prefix, in the order of `settings.upstreams()`."""

    def __init__(self, urls: Mapping[str, Sequence[str]], policy: Policy) -> None:
        self.configured = {prefix: [u.rstrip("/") for u in found] for prefix, found in urls.items()}
        self.pools = {prefix: Pool(prefix.rsplit("/", 1)[-1], found, policy, time.monotonic)
                      for prefix, found in self.configured.items()}

    @contextlib.asynccontextmanager
    async def watched(self, session: aiohttp.ClientSession, registry: CollectorRegistry,
                      check_every_s: float, check_timeout_s: float,
                      resolve_every_s: float) -> AsyncIterator[None]:
        """Health checks and DNS refreshes run in the background, and the gauges are on
        `registry`, while the block runs."""
        await self.resolve()
        gauges = ReplicaGauges(self)
        registry.register(gauges)
        checks = functools.partial(self.check, session, check_timeout_s)
        tasks = [asyncio.create_task(_every(check_every_s, checks)),
                 asyncio.create_task(_every(resolve_every_s, self.resolve))]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            registry.unregister(gauges)

    async def resolve(self) -> None:
        """A hostname resolving to several addresses is that many replicas (one that does not
        resolve now is kept as it is, for the connector to try)."""
        for prefix, pool in self.pools.items():
            found: list[str] = []
            for url in self.configured[prefix]:
                found.extend(await _addresses(url) or [url])
            pool.set_urls(found)

    async def check(self, session: aiohttp.ClientSession, timeout_s: float) -> None:
        """One `/readyz` round over every replica, all at once; no answer in `timeout_s` is a
        failed check."""
        replicas = [r for pool in self.pools.values() for r in pool.replicas]
        limit = aiohttp.ClientTimeout(total=timeout_s)
        results = await asyncio.gather(*(_ready(session, r.url, limit) for r in replicas))
        for replica, ok in zip(replicas, results, strict=True):
            replica.checked(ok)


async def _every(period_s: float, job: Callable[[], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(period_s)
        try:
            await job()
        except Exception as exc:  # a failed round must not stop the next one
            log.warning("upstream upkeep failed", error=repr(exc))


async def _ready(session: aiohttp.ClientSession, base_url: str,
                 limit: aiohttp.ClientTimeout) -> bool:
    try:
        async with session.get(base_url + "/readyz", timeout=limit,
                               allow_redirects=False) as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def _addresses(url: str) -> list[str]:
    """`url` with its host replaced by each address it resolves to; [url] for an address."""
    parsed = URL(url)
    host = parsed.host or ""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return [url]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, parsed.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        log.warning("upstream name did not resolve", url=url, error=repr(exc))
        return []
    addresses = dict.fromkeys(str(info[4][0]) for info in infos)
    return [str(parsed.with_host(address)).rstrip("/") for address in addresses]


class ReplicaGauges(Collector):
    """Read at each scrape: no state to keep in step with the pools."""

    def __init__(self, upstreams: Upstreams) -> None:
        self._upstreams = upstreams

    def collect(self) -> Iterable[Metric]:
        labels = ["upstream", "replica"]
        healthy = GaugeMetricFamily("gateway_upstream_replica_healthy",
                                    "1 while the replica passes its /readyz checks.", labels=labels)
        breaker = GaugeMetricFamily("gateway_upstream_replica_breaker",
                                    "The replica's breaker: 0 closed, 1 open (ejected), "
                                    "2 half-open.", labels=labels)
        in_flight = GaugeMetricFamily("gateway_upstream_replica_in_flight",
                                      "Requests (and event streams) open to the replica.",
                                      labels=labels)
        for pool in self._upstreams.pools.values():
            for replica in pool.replicas:
                key = [pool.name, replica.url]
                healthy.add_metric(key, float(replica.healthy))
                breaker.add_metric(key, float(replica.breaker))
                in_flight.add_metric(key, float(replica.in_flight))
        return [healthy, breaker, in_flight]
