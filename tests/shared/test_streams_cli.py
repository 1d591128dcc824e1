"""`coursestream streams ...` against a real Redis."""

from __future__ import annotations

import json

import pytest
import redis as sync_redis
from click.testing import CliRunner

from coursestream.cli import main
from shared.embedded_redis import EmbeddedRedis
from shared.events import Envelope, encode_entry

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(embedded_redis: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REDIS_URL", embedded_redis.url)
    client = sync_redis.Redis.from_url(embedded_redis.url)
    client.flushdb()
    ids = [client.xadd("s", encode_entry(Envelope(type="t", producer="p", data={"n": i})))
           for i in range(5)]

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["streams", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    yield run, client, [i.decode() for i in ids]
    client.close()


def test_show_decodes_envelopes(cli) -> None:  # type: ignore[no-untyped-def]
    run, _, ids = cli
    lines = [json.loads(line) for line in run("show", "s", "--start", ids[1], "--count", "2")
             .splitlines()]
    assert [line["envelope"]["data"]["n"] for line in lines] == [1, 2]
    assert lines[0]["entry_id"] == ids[1]


def test_replay_into_a_new_stream_copies_the_range_only(cli) -> None:  # type: ignore[no-untyped-def]
    run, client, ids = cli
    client.xgroup_create("s", "prod", id="$")
    assert "copied 3" in run("replay", "s", "--start", ids[1], "--end", ids[3], "--into", "copy")
    assert client.xlen("copy") == 3
    assert client.xinfo_groups("s")[0]["last-delivered-id"] == ids[-1].encode()  # untouched


def test_replay_into_a_debug_group_starts_at_the_range(cli) -> None:  # type: ignore[no-untyped-def]
    run, client, ids = cli
    run("replay", "s", "--start", ids[2], "--group", "debug-me")
    [(_, entries)] = client.xreadgroup("debug-me", "op", {"s": ">"})
    assert [e[0].decode() for e in entries] == ids[2:]
    result = CliRunner().invoke(main, ["streams", "replay", "s", "--group", "order-writer"])
    assert result.exit_code != 0 and "debug-" in result.output


def test_retry_dead_puts_entries_back(cli) -> None:  # type: ignore[no-untyped-def]
    run, client, _ = cli
    fields = encode_entry(Envelope(type="t", producer="p", data={"n": 99}))
    client.xadd("s.dead", {**fields, "error": "boom", "deliveries": "5"})
    assert "boom" in run("dead", "s")
    assert "retried 1" in run("retry-dead", "s")
    assert client.xlen("s.dead") == 0
    last = client.xrevrange("s", count=1)[0][1]
    assert set(last) == {b"__data__"}


def test_ls_prints_each_groups_health(cli) -> None:  # type: ignore[no-untyped-def]
    run, client, _ = cli
    client.xgroup_create("s", "prod", id="0")
    client.xreadgroup("prod", "worker", {"s": ">"}, count=2)  # read, never acknowledged
    client.xadd("s.dead", {"group": "prod", "error": "boom"})
    lines = run("ls").splitlines()
    group, lag, pending, oldest, consumers, dead = lines[lines.index("s\tlength=5") + 1].split("\t")
    assert (group, lag, pending, consumers, dead) == (
        "  prod", "lag=3", "pending=2", "consumers=1", "dead=1")
    assert oldest.startswith("oldest_pending_s=")
    assert "s.dead\tlength=1\tno groups" in lines
