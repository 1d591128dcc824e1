"""The AsyncAPI 3.0 document of every stream, built by FastStream from the event registry.

Each stream of `shared.event_types` becomes FastStream subscribers (one per consumer group,
and one for its readers without a group) and publishers (one per producing service) on a
broker that is never connected, the same calls the consumers make; FastStream writes the
channels, operations and payload schemas (the envelope with each type's data model, from
the pydantic models the code uses). Then each channel's one message is split into one
message per event type, and a partitioned stream's `{partition}` becomes a parameter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Annotated, Any, Literal, Union
from urllib.parse import quote

from faststream.redis import RedisBroker, StreamSub
from faststream.specification import AsyncAPI
from pydantic import BaseModel, Field, create_model

from shared.event_types import STREAMS, EventType, Stream, types_of
from shared.events import Envelope

TITLE = "coursestream streams"
DESCRIPTION = (
    "Every Redis stream of coursestream. An entry has one field, `__data__`, holding JSON "
    '`{"data": "<envelope JSON>", "headers": {...}}`; the payloads below are the envelope. '
    "An entry that fails `max_deliveries` times goes to `<stream>.dead` with its error "
    "(`coursestream streams dead`).")
SERVER = "redis://redis:6379"


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", ".").split("."))


def envelope_model(event: EventType) -> type[BaseModel]:
    """The envelope of one event type: `type` fixed, `data` its data model."""
    return create_model(
        f"{_camel(event.name)}Envelope", __base__=Envelope, __doc__=event.summary,
        type=(Literal[event.name], ...), data=(event.data, ...),  # type: ignore[arg-type]
    )


def _payload(stream: Stream) -> Any:
    models = [envelope_model(event) for event in types_of(stream)]
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007


def _handler(payload: Any) -> Callable[[Any], Awaitable[None]]:
    async def handle(body: Any) -> None:  # never called: the broker only describes
        return None

    handle.__annotations__ = {"body": payload, "return": None}
    return handle


def _broker() -> RedisBroker:
    broker = RedisBroker(SERVER, description="Redis Streams (REDIS_URL)")
    for stream in STREAMS:
        payload = _payload(stream)
        for group in stream.groups:
            broker.subscriber(
                stream=StreamSub(stream.key, group=group, consumer="<replica>"),
                title=f"{stream.key}:{group}",
                description=f"{stream.summary} Read by group `{group}`.",
            )(_handler(payload))
        if stream.readers:
            broker.subscriber(
                stream=StreamSub(stream.key), title=f"{stream.key}:readers",
                description=f"{stream.summary} Read without a group by {stream.readers}.",
            )(_handler(payload))
        for producer in stream.producers:
            broker.publisher(
                stream=stream.key, title=f"{stream.key}:{producer}", schema=payload,
                description=f"{stream.summary} Written by {producer}.",
            )
    return broker


def _per_event_type(document: dict[str, Any]) -> dict[str, Any]:
    """One message per event type in every channel (FastStream gives one per subscriber),
    and the partition parameter of a partitioned stream's address."""
    schemas = document["components"]["schemas"]
    messages: dict[str, Any] = {}
    by_key = {stream.key: stream for stream in STREAMS}
    for name, channel in document["channels"].items():
        stream = by_key[channel["address"]]
        channel["messages"] = {}
        for event in types_of(stream):
            key = event.name
            model = envelope_model(event).__name__
            messages[key] = {
                "name": event.name, "title": event.name, "summary": event.summary,
                "contentType": "application/json",
                "correlationId": {"location": "$message.payload#/correlation_id"},
                "payload": {"$ref": f"#/components/schemas/{model}"},
            }
            channel["messages"][key] = {"$ref": f"#/components/messages/{key}"}
        if "{partition}" in stream.key:
            channel["parameters"] = {"partition": {
                "description": "The partition's hash tag `{pN}`, N = item id mod "
                               "SECKILL_PARTITIONS (the braces are part of the key)."}}
        document["operations"][name]["messages"] = [
            {"$ref": f"#/channels/{_pointer(name)}/messages/{key}"} for key in channel["messages"]]
    for old in document["components"]["messages"]:
        schemas.pop(f"{old.rsplit(':', 1)[0]}:Message:Payload", None)
    document["components"]["messages"] = messages
    schemas["Envelope"] = Envelope.model_json_schema()
    return document


def _pointer(name: str) -> str:
    """A key as a JSON pointer token in a URI fragment, written as FastStream writes it."""
    return quote(name.replace("~", "~0").replace("/", "~1"), safe=":~")


@cache
def _document() -> dict[str, Any]:
    specification = AsyncAPI(
        _broker(), title=TITLE, version="1", description=DESCRIPTION, schema_version="3.0.0",
    ).to_specification()
    return _per_event_type(specification.to_jsonable())


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every stream (built once per process)."""
    return _document()
