"""Every Lua script touches keys of one cluster slot: each script the code registers has a
case here that builds its keys with the code's own key helpers for a sample of ids, and all
of one call's keys hash to one slot. A new script without a case fails the first test.
(The cluster-marked tests run the scripts on a real cluster too, which refuses a call across
slots with CROSSSLOT; this test covers every id, not only the ones those tests use.)"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

from redis.crc import key_slot

from services.catalog.adapters.page_cache import (
    BANNERS_TAG,
    PAGES_TAG,
    copy_key,
    lease_key,
    version_key,
)
from services.gateway.adapters import sms_codes
from services.scheduler.adapters.delay_store import STORE_KEYS
from services.scheduler.adapters.leader_lease import FENCE_KEY, LEASE_KEY
from services.seckill.adapters.keys import Keys
from services.seckill.streams import SECKILL_EVENTS
from shared.auth import Principal, Revocations, revocation_key, user_slot
from shared.events import dedupe_key, new_event_id
from tests.support.fresh import in_fresh_interpreter

ROOT = Path(__file__).resolve().parents[2]
ITEMS, USERS = range(1, 41), range(1, 41)
PHONES = [f"1380000{n:04d}" for n in range(40)]
KEYS = Keys(partitions=16)

KeySets = Callable[[], Iterator[list[str]]]


def seckill(build: Callable[[int, int, str], list[str]]) -> KeySets:
    return lambda: (build(item, user, f"{item}-{user:032x}") for item in ITEMS for user in USERS)


def per_user(build: Callable[[int], list[str]]) -> KeySets:
    return lambda: (build(user) for user in USERS)


def per_phone(build: Callable[[str], list[str]]) -> KeySets:
    return lambda: (build(phone) for phone in PHONES)


def each_tag(build: Callable[[str], list[str]]) -> KeySets:
    return lambda: (build(tag) for tag in (BANNERS_TAG, PAGES_TAG))


def principal(user: int) -> Principal:
    return Principal(user_id=user, phone="13800000000", roles=frozenset(), expires_at=0.0,
                     session_id="s1")


# script (file: the expression registered, or the Lua file loaded) -> its key sets
CASES: dict[str, KeySets] = {
    "services/seckill/adapters/sale_store.py:LUA_ENCODE_ENTRY + _lua('admit.lua')": seckill(
        lambda item, user, ticket: [
            KEYS.item(item), KEYS.buyers(item), KEYS.ticket(ticket), KEYS.orders_stream_of(item),
            KEYS.index(item), KEYS.loaded(item), KEYS.idempotency(item, user, "k")]),
    "services/seckill/adapters/sale_store.py:_lua('release.lua')": seckill(
        lambda item, _, ticket: [KEYS.item(item), KEYS.buyers(item), KEYS.released(item),
                                 KEYS.ticket(ticket)]),
    "services/seckill/adapters/sale_store.py:_lua('readmit.lua')": seckill(
        lambda item, _, ticket: [
            KEYS.dead_stream(int(KEYS.tag(item)[2:-1])), KEYS.orders_stream_of(item),
            KEYS.item(item), KEYS.buyers(item), KEYS.released(item), KEYS.ticket(ticket)]),
    "services/seckill/adapters/sale_store.py:_lua('snapshot.lua')": seckill(
        lambda item, _, __: [KEYS.item(item), KEYS.orders_stream_of(item),
                             KEYS.released(item)]),
    "shared/events.py:PUBLISH_ONCE": lambda: (
        [stream, dedupe_key(stream, new_event_id()), dedupe_key(stream, new_event_id())]
        for stream in [SECKILL_EVENTS, "scheduler.requests", "catalog.commands", "notify.sms",
                       *KEYS.all_orders_streams()]),
    "services/scheduler/adapters/lua/delay_add.lua": lambda: iter([STORE_KEYS[:4]]),
    "services/scheduler/adapters/lua/delay_take.lua": lambda: iter([STORE_KEYS]),
    "services/scheduler/adapters/lua/delay_cancel.lua": lambda: iter([STORE_KEYS[:4]]),
    "services/scheduler/adapters/leader_lease.py:ACQUIRE": lambda: iter([[LEASE_KEY, FENCE_KEY]]),
    "services/scheduler/adapters/leader_lease.py:RENEW": lambda: iter([[LEASE_KEY]]),
    "services/scheduler/adapters/leader_lease.py:RELEASE": lambda: iter([[LEASE_KEY]]),
    "services/catalog/adapters/page_cache.py:STORE_IF_CURRENT": each_tag(
        lambda tag: [version_key(tag), copy_key(tag, "kind=free&page=2")]),
    "services/catalog/adapters/page_cache.py:RELEASE_LEASE": each_tag(
        lambda tag: [lease_key(tag, "kind=free&page=2")]),
    "services/gateway/adapters/sms_codes.py:ISSUE": per_phone(
        lambda phone: [sms_codes._code_key(phone)]),
    "services/gateway/adapters/sms_codes.py:TAKE_TRY": per_phone(
        lambda phone: [sms_codes._code_key(phone), sms_codes._failures_key(phone)]),
    "services/gateway/adapters/sms_codes.py:CONSUME": per_phone(
        lambda phone: [sms_codes._code_key(phone), sms_codes._failures_key(phone)]),
    "services/gateway/adapters/rate_limits.py:HIT": per_phone(
        lambda phone: [f"gateway:sms-ip:{phone}"]),
    "services/gateway/adapters/rate_limits.py:RELEASE": per_phone(
        lambda phone: [f"gateway:password-failures:{phone}"]),
    "services/gateway/adapters/rate_limits.py:GCRA": per_user(
        lambda user: [f"gateway:rate:attempts:{{{user_slot(user)}}}",
                      Revocations.state_fields(principal(user))[0]]),
    "shared/auth.py:LOG_OUT": per_user(lambda user: [revocation_key(user)]),
}


def registered_scripts() -> list[str]:
    """Each `register_script(<expression>)` in services/ and shared/, and each Lua file the
    scheduler loads by name (`lua_scripts.load(redis, "<name>")`)."""
    found = set()
    for path in [*(ROOT / "services").rglob("*.py"), *(ROOT / "shared").rglob("*.py")]:
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            if name == "register_script" and where.name != "lua_scripts.py":
                found.add(f"{where}:{ast.unparse(node.args[0])}")
            elif name == "load" and isinstance(node.args[-1], ast.Constant):
                found.add(f"services/scheduler/adapters/lua/{node.args[-1].value}.lua")
    return sorted(found)


def test_every_registered_script_has_a_case() -> None:
    # Parsed in a fresh interpreter (tests/support/fresh.py).
    found = in_fresh_interpreter("tests.cluster.test_script_slots", "registered_scripts")
    assert set(found) == set(CASES)


def test_each_call_of_each_script_stays_in_one_slot() -> None:
    spread = {}
    for script, key_sets in CASES.items():
        for keys in key_sets():
            if len({key_slot(key.encode()) for key in keys}) != 1:
                spread[script] = keys
    assert not spread
