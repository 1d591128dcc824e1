"""A delayed event request: what to write, where, and when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from services.scheduler.domain.errors import InvalidSchedule
from services.scheduler.domain.schedules import TYPE_PATTERN

MAX_DELAY_S = 366 * 24 * 3600


class DelayRequest(BaseModel):
    """`POST /delays` and the data of a `delay.requested` event."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "oneOf": [{"required": ["at"]}, {"required": ["delay_s"]}]})

    stream: str = Field(min_length=1, max_length=200)
    type: str = Field(pattern=TYPE_PATTERN)
    data: dict[str, Any] = Field(default_factory=dict)
    at: AwareDatetime | SkipJsonSchema[None] = None
    delay_s: Annotated[float, Field(ge=0, le=MAX_DELAY_S)] | SkipJsonSchema[None] = None
    key: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_time(self) -> DelayRequest:
        if (self.at is None) == (self.delay_s is None):
            raise ValueError("give exactly one of `at` and `delay_s`")
        return self

    def due_at(self, now: datetime, allow_past: bool) -> datetime:
        """When to fire. A past `at` is refused from a person (HTTP); from a service (an
        event that may have waited in a stream) it fires at once."""
        if self.delay_s is not None:
            return now + timedelta(seconds=self.delay_s)
        assert self.at is not None
        if self.at < now and not allow_past:
            raise InvalidSchedule("at", "the time is in the past")
        if self.at - now > timedelta(seconds=MAX_DELAY_S):
            raise InvalidSchedule("at", "the time is more than a year away")
        return max(self.at, now)


class DelayCancel(BaseModel):
    """The data of a `delay.cancelled` event: the delay's id, or the key it was asked with."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, min_length=1, max_length=40)
    key: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_ref(self) -> DelayCancel:
        if (self.id is None) == (self.key is None):
            raise ValueError("give exactly one of `id` and `key`")
        return self


@dataclass(frozen=True, slots=True)
class StoredDelay:
    """A stored delay; `created` is False when its key named one stored before."""

    id: str
    due_at: datetime
    created: bool


@dataclass(frozen=True, slots=True)
class Moved:
    """One batch of the mover: how many moved, how many were due, the lateness of each."""

    moved: int
    looked_at: int
    lateness_ms: list[int] = field(default_factory=list)
