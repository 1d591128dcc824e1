"""Admission over HTTP against real Redis and real databases."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.seckill.app import create_app
from services.seckill.settings import Settings
from tests.seckill.conftest import BASE, Tokens, WriterFactory, create_item
from tests.seckill.helpers import Inspector
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


async def attempt(client: TestClient[Any, Any], item_id: int, headers: dict[str, str]) -> Any:
    response = await client.post(f"{BASE}/items/{item_id}/attempts", headers=headers)
    return response.status, await response.json()


@pytest.mark.slow
async def test_2000_users_at_once_for_100_units(
    client: TestClient[Any, Any], tokens: Tokens, writer: WriterFactory, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=100)
    users = range(1000, 3000)
    headers = [tokens.headers(u) for u in users]
    async with writer():
        results = await asyncio.gather(*(attempt(client, item["id"], h) for h in headers))
        statuses = Counter(status for status, _ in results)
        assert statuses == {202: 100, 409: 1900}
        assert {body["type"].rsplit("/", 1)[1] for s, body in results if s == 409} == {"sold-out"}

        async def all_written() -> bool:
            return await inspector.order_count(item["id"]) == 100

        await eventually(all_written, within=30)
        figures = await inspector.figures(item["id"])
    rows = await inspector.orders(item["id"])
    assert len({r.user_id for r in rows}) == 100  # no buyer twice
    admitted = {body["ticket"] for s, body in results if s == 202}
    assert {r.ticket for r in rows} == admitted
    assert (figures.orders, figures.remaining, figures.pending, figures.drift) == (100, 0, 0, 0)
    response = await client.get(f"{BASE}/items/{item['id']}")
    assert (await response.json())["state"] == "sold_out"


async def test_one_user_twenty_attempts_at_once_gets_one_ticket(
    client: TestClient[Any, Any], tokens: Tokens, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=5)
    headers = tokens.headers(77)
    results = await asyncio.gather(*(attempt(client, item["id"], headers) for _ in range(20)))
    assert Counter(s for s, _ in results) == {202: 1, 409: 19}
    assert {b["type"].rsplit("/", 1)[1] for s, b in results if s == 409} == {"already-purchased"}
    assert (await inspector.store.remaining([item["id"]]))[item["id"]] == 4


async def test_attempts_of_one_turn_share_a_pipeline_and_survive_a_script_flush(
    client: TestClient[Any, Any], tokens: Tokens, inspector: Inspector,
) -> None:
    """Attempts made together go to Redis in one pipeline (one EVALSHA each); after Redis
    forgets its scripts every attempt is still answered, by the script loaded again."""
    item = await create_item(client, tokens, stock=5)
    await inspector.redis.script_flush()
    results = await asyncio.gather(*(attempt(client, item["id"], tokens.headers(u))
                                     for u in range(300, 310)))
    assert Counter(s for s, _ in results) == {202: 5, 409: 5}
    assert {b["type"].rsplit("/", 1)[1] for s, b in results if s == 409} == {"sold-out"}
    assert (await inspector.store.remaining([item["id"]]))[item["id"]] == 0


async def test_a_lost_redis_fails_every_attempt_of_the_batch() -> None:
    """A pipeline that cannot be sent fails each of its callers, none is left waiting."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from shared.embedded_redis import free_port
    from shared.redis import ScriptBatcher, make_redis

    redis = make_redis(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    batcher = ScriptBatcher(redis, redis.register_script("return 1"))
    try:
        results = await asyncio.wait_for(asyncio.gather(
            *(batcher(["k"], [n]) for n in range(5)), return_exceptions=True), timeout=10)
    finally:
        await redis.aclose()
    assert all(isinstance(r, RedisConnectionError) for r in results), results


async def test_idempotency_key_returns_the_same_ticket(
    client: TestClient[Any, Any], tokens: Tokens, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=5)
    headers = {**tokens.headers(5), "Idempotency-Key": "retry-me-1"}
    first = await attempt(client, item["id"], headers)
    again = await attempt(client, item["id"], headers)
    assert first[0] == again[0] == 202
    assert first[1]["ticket"] == again[1]["ticket"]
    assert (await inspector.store.remaining([item["id"]]))[item["id"]] == 4
    other_key = await attempt(client, item["id"], {**headers, "Idempotency-Key": "another"})
    assert other_key[0] == 409 and other_key[1]["type"].endswith("/already-purchased")
    bad = await attempt(client, item["id"], {**headers, "Idempotency-Key": "no spaces"})
    assert bad[0] == 400


async def test_every_answer_of_an_attempt_comes_from_redis_alone(
    client: TestClient[Any, Any], tokens: Tokens, settings: Settings,
) -> None:
    live = await create_item(client, tokens, stock=1)
    upcoming = await create_item(client, tokens, stock=3, starts_in_s=3600)
    ended = await create_item(client, tokens, stock=3, starts_in_s=-7200, lasts_s=3600)
    assert (upcoming["state"], ended["state"], live["state"]) == ("upcoming", "ended", "live")
    # A second replica whose database cannot be reached at all still answers every attempt.
    no_db = settings.model_copy(update={"database_url": "postgresql://x@127.0.0.1:9/none"})
    async with TestClient(TestServer(create_app(no_db))) as blind:
        expected = [
            (live["id"], 1, 202, None), (live["id"], 1, 409, "already-purchased"),
            (live["id"], 2, 409, "sold-out"), (upcoming["id"], 2, 409, "not-started"),
            (ended["id"], 2, 409, "ended"), (987654, 2, 404, "not-found"),
        ]
        for item_id, user, status, slug in expected:
            got, body = await attempt(blind, item_id, tokens.headers(user))
            assert got == status, body
            if slug:
                assert body["type"].endswith(f"/{slug}")
        assert (await blind.get("/readyz")).status == 503  # the database really is away


async def test_unknown_item_is_404_and_unloaded_stock_is_503(
    client: TestClient[Any, Any], tokens: Tokens, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=3)
    status, body = await attempt(client, 987654, tokens.headers(9))
    assert status == 404 and body["type"].endswith("/not-found")
    await inspector.redis.delete(inspector.keys.item(item["id"]))  # stock not loaded
    status, body = await attempt(client, item["id"], tokens.headers(9))
    assert status == 503 and body["type"].endswith("/not-ready")
    await inspector.redis.flushdb()  # a Redis loss: every item fails closed until warmed
    status, body = await attempt(client, 987654, tokens.headers(9))
    assert status == 503


async def test_bad_input_changes_nothing(
    client: TestClient[Any, Any], tokens: Tokens, inspector: Inspector,
) -> None:
    item = await create_item(client, tokens, stock=3)
    path = f"{BASE}/items/{item['id']}/attempts"
    assert (await client.post(path)).status == 401
    assert (await client.post(path, headers={"Authorization": "Bearer nope"})).status == 401
    for bad in ("abc", "-1", "1.5", "9" * 30):
        response = await client.post(f"{BASE}/items/{bad}/attempts", headers=tokens.headers(3))
        assert response.status == 404, bad
        assert response.content_type == "application/problem+json"
    for bad_ticket in ("nope", "1-xyz", f"{item['id']}-{'g' * 32}"):
        response = await client.get(f"{BASE}/tickets/{bad_ticket}", headers=tokens.headers(3))
        assert response.status == 404
    assert (await client.get(f"{BASE}/orders/abc", headers=tokens.headers(3))).status == 404
    assert (await client.get(f"{BASE}/items/424242")).status == 404
    admin = tokens.headers(1, "admin")
    bad_items = [
        {"course_id": 1, "title": "x", "price": "1.999", "stock": 1, "starts_at":
         "2030-01-01T00:00:00+00:00", "ends_at": "2030-01-02T00:00:00+00:00"},
        {"course_id": 1, "title": "x", "price": "1", "stock": 1, "starts_at":
         "2030-01-02T00:00:00+00:00", "ends_at": "2030-01-01T00:00:00+00:00"},
        {"course_id": 1, "title": "x", "price": "1", "stock": 0, "starts_at":
         "2030-01-01T00:00:00", "ends_at": "2030-01-02T00:00:00+00:00"},
    ]
    for body in bad_items:
        response = await client.post(f"{BASE}/items", json=body, headers=admin)
        assert response.status == 422, body
    json_type = {"Content-Type": "application/json"}
    response = await client.post(f"{BASE}/items", data=b"{", headers={**admin, **json_type})
    assert response.status == 400
    user_create = await client.post(f"{BASE}/items", json=bad_items[0], headers=tokens.headers(3))
    assert user_create.status == 403
    listing = await (await client.get(f"{BASE}/items")).json()
    assert listing["count"] == 1
    assert (await inspector.store.remaining([item["id"]]))[item["id"]] == 3


async def test_every_key_of_one_admission_is_in_one_slot(inspector: Inspector) -> None:
    from redis.crc import key_slot

    keys = inspector.keys
    for item_id in (1, 2, 3, 4, 5, 1234567):
        ticket = f"{item_id}-{'a' * 32}"
        touched = [keys.item(item_id), keys.buyers(item_id), keys.ticket(ticket),
                   keys.orders_stream_of(item_id), keys.index(item_id), keys.loaded(item_id),
                   keys.idempotency(item_id, 42, "k"), keys.released(item_id),
                   keys.dead_stream(item_id % keys.partitions)]
        assert len({key_slot(k.encode()) for k in touched}) == 1, touched


async def test_the_openapi_document_lists_every_route(client: TestClient[Any, Any]) -> None:
    document = await (await client.get(f"{BASE}/openapi.json")).json()
    routes = {
        (r.method.lower(), r.resource.canonical.replace(r"{id:\d{1,18}}", "{id}").replace(
            r"{ticket:\d{1,18}-[0-9a-f]{32}}", "{ticket}"))
        for r in client.app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith(BASE)
        and r.method not in ("HEAD", "OPTIONS") and not r.resource.canonical.endswith("json")
    }
    documented = {(method, path) for path, ops in document["paths"].items()
                  for method in ops if method != "parameters"}
    assert routes == documented
    assert "ItemIn" in document["components"]["schemas"]
