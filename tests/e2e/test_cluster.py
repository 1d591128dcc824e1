"""The platform on a Redis Cluster with two replicas of each service and worker
(`coursestream up --replicas 2`, REDIS_URL of the cluster): a sale through the gateway keeps
the invariant, and a master killed with SIGKILL in the middle of a sale fails over while the
services reconnect by themselves; afterwards `seckill reconcile` says what the failover window
cost and `--fix` repairs it (docs/decisions.md, "Redis Cluster")."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bench import UNREFUSED_LIMITS
from services.scheduler.adapters.delay_store import KEYS
from services.seckill.adapters.keys import Keys
from services.seckill.settings import Settings as SeckillSettings
from shared.embedded_redis import EmbeddedCluster
from shared.redis import make_redis
from tests.support.platform import Platform, running_platform
from tests.support.waiting import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.fault, pytest.mark.slow,
              pytest.mark.timeout(300)]

API = "/api/v1/seckill"
FINAL = {"success", "failed"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """A cluster of this module's own: the failover test kills one of its masters."""
    started = EmbeddedCluster(tmp_path_factory.mktemp("cluster")).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def platform(cluster: EmbeddedCluster,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    env = {"REDIS_URL": cluster.url, "LOG_LEVEL": "WARNING", **UNREFUSED_LIMITS}
    with running_platform(tmp_path_factory.mktemp("platform"), env=env, replicas=2,
                          timeout=180) as running:
        yield running


class Sale:
    def __init__(self, platform: Platform, http: aiohttp.ClientSession,
                 cluster_url: str) -> None:
        self.platform, self.http, self.cluster_url = platform, http, cluster_url
        self.sign: Callable[..., str] = platform.signer()
        self.admin = {"Authorization": f"Bearer {self.sign(1, 'admin')}"}

    async def create(self, stock: int) -> int:
        now = datetime.now(UTC)
        body = {"course_id": 1, "title": f"cluster sale {time.monotonic_ns()}",
                "price": "9.90", "stock": stock,
                "starts_at": (now - timedelta(seconds=1)).isoformat(),
                "ends_at": (now + timedelta(hours=1)).isoformat()}
        async with self.http.post(f"{self.platform.url}{API}/items", json=body,
                                  headers=self.admin) as response:
            assert response.status == 201, await response.text()
            return int((await response.json())["id"])

    async def attempt(self, item: int, user: int, retry_until: float) -> tuple[int, str | None]:
        """One user's attempt as an app makes it: a 503 (Redis failing over) is retried
        after its Retry-After, until `retry_until`. The final status and the ticket."""
        headers = {"Authorization": f"Bearer {self.sign(user)}"}
        while True:
            async with self.http.post(f"{self.platform.url}{API}/items/{item}/attempts",
                                      headers=headers) as response:
                body = await response.json(content_type=None)
                if response.status != 503 or time.monotonic() > retry_until:
                    return response.status, body.get("ticket")
            await asyncio.sleep(min(1.0, float(response.headers.get("Retry-After", "1"))))

    async def run(self, item: int, users: list[int], within_s: float = 60
                  ) -> list[tuple[int, str | None]]:
        limit = asyncio.Semaphore(100)
        retry_until = time.monotonic() + within_s

        async def one(user: int) -> tuple[int, str | None]:
            async with limit:
                return await self.attempt(item, user, retry_until)

        return await asyncio.gather(*(one(u) for u in users))

    async def ticket_status(self, ticket: str, user: int) -> str:
        headers = {"Authorization": f"Bearer {self.sign(user)}"}
        async with self.http.get(f"{self.platform.url}{API}/tickets/{ticket}",
                                 headers=headers) as response:
            return str((await response.json())["status"]) if response.status == 200 else "?"

    async def all_final(self, tickets: dict[str, int], within_s: float) -> dict[str, str]:
        """Each ticket's status once every one is final, or as they are at the deadline."""
        deadline = time.monotonic() + within_s
        while True:
            found = dict(zip(tickets, await asyncio.gather(
                *(self.ticket_status(t, u) for t, u in tickets.items())), strict=True))
            if set(found.values()) <= FINAL or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.5)

    def order_ids(self, item: int) -> list[int]:
        with sqlite3.connect(self.platform.var_dir / "seckill.db") as db:
            return [row[0] for row in db.execute(
                "SELECT id FROM seckill_orders WHERE item_id = ?", (item,))]

    def orders(self, item: int) -> list[tuple[int, str, str]]:
        with sqlite3.connect(self.platform.var_dir / "seckill.db") as db:
            return db.execute("SELECT user_id, ticket, status FROM seckill_orders "
                              "WHERE item_id = ?", (item,)).fetchall()


def reconcile(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    """`coursestream seckill reconcile` beside the running platform, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "coursestream", "seckill", "reconcile", *args],
        cwd=platform.var_dir.parent, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "REDIS_URL"})


def drift_of(report: str, item: int) -> int:
    for line in report.splitlines():
        fields = line.split()
        if fields and fields[0] == str(item):
            return int(fields[5])
    raise AssertionError(f"item {item} not in the report:\n{report}")


@pytest.fixture
async def sale(platform: Platform, cluster: EmbeddedCluster) -> Any:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        yield Sale(platform, http, cluster.url)


async def test_2400_attempts_of_2000_users_through_two_replicas_admit_exactly_the_stock(
    sale: Sale,
) -> None:
    stock, users = 500, list(range(10_000, 12_000))
    item = await sale.create(stock)
    answers = await sale.run(item, users + users[:400])  # 400 buyers try twice
    statuses = Counter(status for status, _ in answers)
    assert statuses[202] == stock and set(statuses) <= {202, 409}, statuses
    admitted = {ticket: user for (status, ticket), user in zip(answers, users + users[:400],
                                                               strict=True) if status == 202}
    assert len(set(admitted.values())) == stock  # nobody admitted twice
    final = await sale.all_final(admitted, within_s=60)
    assert set(final.values()) == {"success"}
    orders = sale.orders(item)
    assert len(orders) == stock and {t for _, t, _ in orders} == set(admitted)
    assert len({u for u, _, _ in orders}) == stock
    report = reconcile(sale.platform)
    assert report.returncode == 0 and drift_of(report.stdout, item) == 0, report.stdout
    # Each order asked the scheduler (its scheduler.requests group, two replicas) for its
    # expiry: one keyed delay per order.
    redis = make_redis(sale.cluster_url)
    try:
        async def expiries_stored() -> bool:
            stored = await redis.hmget(KEYS, [f"order-expire:{o}" for o in sale.order_ids(item)])
            return None not in stored

        await eventually(expiries_stored, within=30)
    finally:
        await redis.aclose()


async def test_an_sms_code_is_sent_once_by_two_senders_and_logs_in(sale: Sale) -> None:
    """The code in the cluster (one slot per phone), `notify.sms` read by two SMS senders in
    one group: one message, and the code logs in."""
    auth, phone = f"{sale.platform.url}/api/v1/auth", "13600000021"
    async with sale.http.post(f"{auth}/sms-codes", json={"phone": phone}) as response:
        assert response.status == 202, await response.text()

    async def sent() -> bool:
        return bool(sale.platform.sent_sms(phone))

    await eventually(sent, within=15)
    await asyncio.sleep(1)  # time for a second sender to send it again, if it would
    [message] = sale.platform.sent_sms(phone)
    async with sale.http.post(f"{auth}/tokens", json={
            "phone": phone, "code": message["params"]["code"]}) as response:
        assert response.status == 200, await response.text()


async def test_a_master_killed_mid_sale_fails_over_and_reconcile_repairs_the_drift(
    sale: Sale, cluster: EmbeddedCluster,
) -> None:
    stock, users = 300, list(range(20_000, 22_000))
    item = await sale.create(stock)
    # The master of the item's partition (its stock, buyers, tickets and order stream).
    victim = cluster.master_of(Keys(SeckillSettings().seckill_partitions).item(item))
    running = asyncio.ensure_future(sale.run(item, users))
    await asyncio.sleep(0.3)
    assert victim.process is not None and not running.done()
    victim.process.kill()  # SIGKILL: whatever it had not yet replicated is gone
    answers = await asyncio.wait_for(running, 120)
    masters = cluster.master_nodes()
    assert len(masters) == 3 and victim not in masters  # its replica took over
    statuses = Counter(status for status, _ in answers)
    assert set(statuses) <= {202, 409, 503}, statuses
    admitted = {ticket: user for (status, ticket), user in zip(answers, users, strict=True)
                if status == 202 and ticket}
    assert len(admitted) <= stock
    # Every admitted ticket ends (an order, or failed with its unit back) - none pending
    # forever - unless the failover lost the ticket itself ("?": not found).
    final = await sale.all_final(admitted, within_s=90)
    assert set(final.values()) <= FINAL | {"?"}, Counter(final.values())
    orders = sale.orders(item)
    assert len(orders) <= stock and len({u for u, _, _ in orders}) == len(orders)
    before = reconcile(sale.platform)
    drift = drift_of(before.stdout, item)
    lost = sum(status == "?" for status in final.values())
    print(f"failover: {len(admitted)} admitted, {len(orders)} orders, {lost} tickets lost, "
          f"drift {drift:+d}, answers {dict(statuses)}")
    fixed = reconcile(sale.platform, "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    after = reconcile(sale.platform)
    assert after.returncode == 0 and drift_of(after.stdout, item) == 0, after.stdout
    assert len(sale.orders(item)) <= stock


async def test_a_banner_edit_is_seen_at_once_on_both_catalog_replicas(sale: Sale) -> None:
    """Each replica keeps an in-process copy: the edit's answer comes first, then no replica
    serves the old title (catalog.events reaches every replica; the version key decides)."""
    platform, http = sale.platform, sale.http
    replicas = [platform.service_url("catalog", r) for r in range(2)]
    banners = "/api/v1/catalog/banners"
    for base in replicas:  # both replicas hold a copy
        async with http.get(base + banners) as response:
            assert response.status == 200
            first = (await response.json())[0]
    title = f"edited {time.monotonic_ns()}"
    async with http.patch(f"{platform.url}{banners}/{first['id']}", json={"title": title},
                          headers=sale.admin) as response:
        assert response.status == 200, await response.text()
    for base in replicas:
        async with http.get(base + banners) as response:
            found = {b["id"]: b["title"] for b in await response.json()}
        assert found[first["id"]] == title, base
