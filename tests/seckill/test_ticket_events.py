"""Ticket event streams (SSE) under load, on real Redis: a cap of open streams per user, and
one shared pub/sub connection per process, so that streams never starve admissions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import RedisCluster

from services.seckill.app import create_app
from services.seckill.settings import Settings
from shared.redis import RedisClient
from tests.seckill.conftest import BASE, Tokens, WriterFactory, create_item
from tests.seckill.helpers import Inspector, buy
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@asynccontextmanager
async def app_client(settings: Settings, **overrides: Any) -> AsyncIterator[TestClient[Any, Any]]:
    """The app on a real server, its client without aiohttp's 100-connection cap."""
    server = TestServer(create_app(settings.model_copy(update=overrides)))
    async with TestClient(server, connector=aiohttp.TCPConnector(limit=0)) as client:
        yield client


def events_path(ticket: str) -> str:
    return f"{BASE}/tickets/{ticket}/events"


async def open_stream(
    client: TestClient[Any, Any], tokens: Tokens, ticket: str, user: int
) -> aiohttp.ClientResponse:
    """An open stream whose first event (the status now) has been read."""
    response = await client.get(events_path(ticket), headers=tokens.headers(user))
    assert response.status == 200, await response.text()
    first = await response.content.readuntil(b"\n\n")
    assert b'"pending"' in first
    return response


async def final_status(response: aiohttp.ClientResponse) -> str:
    """Read a stream to its end; the status of its last event."""
    async with asyncio.timeout(20):
        rest = await response.content.read()
    events = [orjson.loads(chunk.split(b"data: ", 1)[1])
              for chunk in rest.split(b"\n\n") if chunk.startswith(b"event: status")]
    return str(events[-1]["status"])


def subscribed(inspector: Inspector, expected: dict[str, int]) -> Callable[[], Awaitable[bool]]:
    """True once each ticket's channel has the expected number of subscribers."""

    async def check() -> bool:
        channels = [inspector.keys.ticket_channel(t) for t in expected]
        redis = inspector.redis
        if isinstance(redis, RedisCluster):  # classic channels: each node counts its own
            found = await redis.pubsub_numsub(*channels, target_nodes=RedisCluster.ALL_NODES)
        else:
            found = await redis.pubsub_numsub(*channels)
        return [int(count) for _, count in found] == list(expected.values())

    return check


async def test_a_user_past_the_cap_of_open_streams_gets_429_until_one_closes(
    settings: Settings, tokens: Tokens, inspector: Inspector,
) -> None:
    async with app_client(settings, ticket_events_per_user=3,
                          ticket_events_heartbeat_s=0.2) as client:
        item = await create_item(client, tokens, stock=5)
        mine, theirs = await buy(client, tokens, item["id"], 30), await buy(
            client, tokens, item["id"], 31)
        streams = [await open_stream(client, tokens, mine, 30) for _ in range(3)]

        refused = await client.get(events_path(mine), headers=tokens.headers(30))
        assert refused.status == 429
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert int(refused.headers["Retry-After"]) > 0
        body = await refused.json(content_type=None)
        assert body["type"].endswith("/too-many-streams") and body["status"] == 429
        other = await open_stream(client, tokens, theirs, 31)  # another user is not capped

        streams.pop().close()

        async def a_slot_is_free() -> bool:
            response = await client.get(events_path(mine), headers=tokens.headers(30))
            if response.status == 429:
                response.release()
                return False
            assert response.status == 200
            streams.append(response)
            return True

        await eventually(a_slot_is_free)
        # One subscription per channel, however many streams listen on it; none once they close.
        await eventually(subscribed(inspector, {mine: 1, theirs: 1}))
        for response in [*streams, other]:
            response.close()
        await eventually(subscribed(inspector, {mine: 0, theirs: 0}))
        again = [await open_stream(client, tokens, mine, 30) for _ in range(3)]
        for response in again:
            response.close()


@pytest.mark.slow
async def test_admissions_answer_while_hundreds_of_streams_are_open(
    settings: Settings, tokens: Tokens, writer: WriterFactory,
) -> None:
    """200 streams (40 users, 5 each) on an app whose Redis pool has 8 connections: every
    admission still succeeds, and every stream then gets its ticket's final event."""
    async with app_client(settings, seckill_redis_max_connections=8,
                          ticket_events_per_user=5) as client:
        item = await create_item(client, tokens, stock=100)
        users = range(2_000, 2_040)
        tickets = dict(zip(users, await asyncio.gather(
            *(buy(client, tokens, item["id"], u) for u in users)), strict=True))
        streams = await asyncio.gather(*(open_stream(client, tokens, tickets[u], u)
                                         for u in users for _ in range(5)))
        assert len(streams) == 200

        async def attempt(user: int) -> int:
            response = await client.post(f"{BASE}/items/{item['id']}/attempts",
                                         headers=tokens.headers(user))
            return response.status

        statuses = await asyncio.gather(*(attempt(u) for u in range(3_000, 3_030)))
        assert statuses == [202] * 30
        async with writer():
            finals = await asyncio.gather(*(final_status(s) for s in streams))
        assert set(finals) == {"success"}


async def test_a_stream_gets_its_final_status_after_the_pubsub_connection_drops(
    client: TestClient[Any, Any], tokens: Tokens, inspector: Inspector,
) -> None:
    """The final status is set while the shared pub/sub connection is gone (its notice lost):
    the connection comes back and every listener reads its ticket again."""
    item = await create_item(client, tokens, stock=2)
    ticket = await buy(client, tokens, item["id"], 40)
    stream = await open_stream(client, tokens, ticket, 40)
    redis = inspector.redis
    await eventually(subscribed(inspector, {ticket: 1}))
    await redis.hset(inspector.keys.ticket(ticket),
                     mapping={"status": "failed", "reason": "order-failed"})
    await kill_pubsub_connections(redis)
    assert await final_status(stream) == "failed"


async def kill_pubsub_connections(redis: RedisClient) -> None:
    """Closes the pub/sub connections of this test's database (the server may be shared), on
    every node of a cluster (the test's own cluster)."""
    if isinstance(redis, RedisCluster):
        for node in redis.get_nodes():
            for found in await redis.client_list(_type="pubsub", target_nodes=node):
                await redis.client_kill_filter(_id=found["id"], target_nodes=node)
        return
    db = redis.get_connection_kwargs().get("db", 0)
    for found in await redis.client_list(_type="pubsub"):
        if int(found["db"]) == db:
            await redis.client_kill_filter(_id=found["id"])
