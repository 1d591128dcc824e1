"""FastStream Redis broker wiring: one JSON wire format (`shared.events`' entry), one Redis URL."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from faststream.redis import RedisBroker, RedisClusterBroker
from faststream.redis.parser import MessageFormat

from shared.redis import cluster_nodes, is_cluster_url

if TYPE_CHECKING:
    from fast_depends.library.serializer import SerializerProto
    from faststream._internal.basic_types import SendableMessage
    from faststream._internal.parser import CodecProto


class JsonMessageFormat(MessageFormat):
    """FastStream message format that writes and reads the JSON form above."""

    __slots__ = ()

    @classmethod
    async def encode(
        cls,
        *,
        message: SendableMessage | Sequence[SendableMessage],
        reply_to: str | None,
        headers: dict[str, Any] | None,
        correlation_id: str,
        serializer: SerializerProto | None = None,
        codec: CodecProto | None = None,
    ) -> bytes:
        msg = await cls.build(
            message=message,
            reply_to=reply_to,
            headers=headers,
            correlation_id=correlation_id,
            serializer=serializer,
            codec=codec,
        )
        return orjson.dumps({"data": msg.data.decode(), "headers": msg.headers})

    @classmethod
    def parse(cls, data: bytes) -> tuple[bytes, dict[str, Any]]:
        outer = orjson.loads(data)
        return outer["data"].encode(), outer.get("headers", {})



def make_broker(redis_url: str) -> RedisBroker:
    """A broker that reads and writes the shared JSON entry format; FastStream's cluster
    broker (redis-py's cluster client) for a `redis+cluster://` URL."""
    options: dict[str, Any] = {
        "message_format": JsonMessageFormat,
        "logger": logging.getLogger("faststream"),
        "log_level": logging.DEBUG,
    }
    if is_cluster_url(redis_url):
        nodes = cluster_nodes(redis_url)
        return RedisClusterBroker(
            f"redis://{nodes[0].host}:{nodes[0].port}",
            startup_nodes=[(n.host, n.port) for n in nodes[1:]],
            **options,
        )
    return RedisBroker(redis_url, **options)
