"""FastStream Redis broker wiring: one JSON wire format, one Redis URL."""

from __future__ import annotations

import logging

from faststream.redis import RedisBroker

from shared.events import JsonMessageFormat


def make_broker(redis_url: str) -> RedisBroker:
    """A broker that reads and writes the shared JSON entry format."""
    return RedisBroker(
        redis_url,
        message_format=JsonMessageFormat,
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
    )
