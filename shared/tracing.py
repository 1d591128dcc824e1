"""W3C Trace Context (`traceparent`, version 00): kept when valid, started when missing.

No spans are recorded, only log lines and envelopes, so a process passes the traceparent on
unchanged (the spec lets a participant forward it as received) rather than minting parent ids
that would name spans nobody can look up. The current one lives in a ContextVar, set by the
HTTP middleware (`shared.http`) for a request and by `shared.consumers` for a stream entry;
every `Envelope` built meanwhile takes it (`current_or_new`).

Twenty lines of the spec's grammar rather than OpenTelemetry's API package: parsing one header
is all that is needed here, and that package brings its global context and entry points.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar

TRACEPARENT_HEADER = "traceparent"
# version 00: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lowercase only.
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
_ZERO_TRACE, _ZERO_PARENT = "0" * 32, "0" * 16
SAMPLED = "01"

current_traceparent: ContextVar[str | None] = ContextVar("traceparent", default=None)


def valid_traceparent(value: str | None) -> str | None:
    """`value` when it is a valid version-00 traceparent (all-zero ids are not), else None."""
    if value is None:
        return None
    match = _TRACEPARENT.fullmatch(value)
    if match is None or match[1] == _ZERO_TRACE or match[2] == _ZERO_PARENT:
        return None
    return value


def new_traceparent() -> str:
    """A new trace: random trace and parent ids (never all zero: 2^-128), sampled."""
    return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-{SAMPLED}"


def trace_id(traceparent: str) -> str:
    """The trace id of a valid traceparent: what log lines carry as `trace_id`."""
    return traceparent[3:35]


def current_or_new() -> str:
    """The traceparent of the request or entry being handled; a new trace outside any (a
    scheduler's own timer, a command run by hand)."""
    return current_traceparent.get() or new_traceparent()


@contextlib.contextmanager
def continued(traceparent: str | None) -> Iterator[None]:
    """Within the block, envelopes built carry `traceparent` (a valid one; else each starts
    its own trace): for a handler that works through a batch entry by entry."""
    token = current_traceparent.set(valid_traceparent(traceparent))
    try:
        yield
    finally:
        current_traceparent.reset(token)
