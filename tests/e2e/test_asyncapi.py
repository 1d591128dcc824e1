"""The running platform's consumer groups are the ones the AsyncAPI document names: every
group found in Redis after `coursestream up` started every consumer is a `receive`
operation of `/api/v1/asyncapi.json` on its stream."""

from __future__ import annotations

import aiohttp

from shared.event_types import stream_named
from shared.redis import make_redis, text
from tests.e2e.test_drain import redis_url
from tests.support.platform import Platform


async def test_every_running_group_is_in_the_document(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    async with http.get(platform.url + "/api/v1/asyncapi.json") as response:
        assert response.status == 200
        document = await response.json()
    documented = {
        (channel["address"], channel["bindings"]["redis"].get("groupName"))
        for name, operation in document["operations"].items()
        if operation["action"] == "receive"
        for channel in [document["channels"][name]]
    }
    redis = make_redis(redis_url(platform))
    try:
        running = set()
        async for key in redis.scan_iter(_type="stream", count=1000):
            stream = text(key)
            if stream.endswith(".dead"):
                continue
            registered = stream_named(stream)
            assert registered is not None, f"{stream} is not in the registry"
            for group in await redis.xinfo_groups(stream):
                running.add((registered.key, text(group["name"])))
    finally:
        await redis.aclose()
    # Every consumer of the platform: the catalog, seckill and scheduler apps, the order
    # writer on each partition, the SMS sender.
    assert {group for _, group in running} >= {
        "catalog", "seckill", "scheduler", "order-writer", "sms-sender"}
    assert running <= documented
