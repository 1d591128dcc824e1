"""Triggers and their run times: cron (5 fields, in a time zone), interval and one-off date.

All instants are aware datetimes; stored and compared in UTC. Cron expressions are evaluated
in the trigger's zone by cronsim, which follows Debian cron across DST changes: a fixed time
that falls into the spring-forward gap runs once just after the change, a fixed time in the
fall-back fold runs once (its first occurrence), and wildcard hours run in both folds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cronsim import CronSim, CronSimError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

DEFAULT_TIMEZONE = "Asia/Shanghai"
MIN_EVERY_S = 0.1  # finer steps would round to nothing in microseconds, and flood the streams
# The zones of the IANA database, listed in the document (the API refuses any other name).
ZONES: dict[str, Any] = {"enum": sorted(available_timezones())}


# Five fields of cron's characters (numbers, names such as MON or JAN, `*`, `-`, `/`, `,`);
# what they mean is cronsim's to check (`_five_fields`): "0 9-17 * * MON-FRI" is as welcome
# as "*/5 * * * *". The document states the shape; the conformance test knows the API refuses
# some strings of that shape (tests/conformance: positive_data_acceptance off for schedules).
_CRON_FIELD = r"[0-9A-Za-z*/,-]+"
CRON_PATTERN = rf"^\s*{_CRON_FIELD}(\s+{_CRON_FIELD}){{4}}\s*$"


def _tag_required(schema: dict[str, Any]) -> None:
    """The union is told apart by `type`: a body must name it, default or not."""
    schema["required"] = ["type", *schema.get("required", [])]


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


class CronTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_tag_required)

    type: Literal["cron"] = "cron"
    expr: str = Field(pattern=CRON_PATTERN)
    timezone: str = Field(DEFAULT_TIMEZONE, json_schema_extra=ZONES)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("expr")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5:
            raise ValueError("a cron expression has 5 fields: minute hour day month weekday")
        normal = " ".join(fields)
        try:
            next(CronSim(normal, datetime(2000, 1, 1)))
        except (CronSimError, StopIteration) as exc:
            raise ValueError(f"invalid cron expression: {exc}") from exc
        return normal

    def next_after(self, after: datetime, anchor: datetime) -> datetime | None:
        local = after.astimezone(zone(self.timezone))
        try:
            return next(CronSim(self.expr, local)).astimezone(UTC)
        except StopIteration:  # e.g. "0 0 30 2 *": never
            return None


class IntervalTrigger(BaseModel):
    """Every `every_s` seconds from the anchor (the schedule's creation, or `start_at`);
    absolute seconds, so time zones and DST do not apply."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_tag_required)

    type: Literal["interval"] = "interval"
    every_s: float = Field(ge=MIN_EVERY_S, le=366 * 24 * 3600)
    start_at: AwareDatetime | None = None

    def next_after(self, after: datetime, anchor: datetime) -> datetime | None:
        # In UTC: adding seconds to a zoned time is wall-clock arithmetic, wrong across DST.
        start = (self.start_at or anchor).astimezone(UTC)
        if after < start:
            return start
        # Integer microseconds keep every nominal time exact, however many periods passed.
        step = round(self.every_s * 1_000_000)
        passed = (after - start) // timedelta(microseconds=1)
        periods = passed // step + 1
        return start + timedelta(microseconds=periods * step)


class DateTrigger(BaseModel):
    """Once, at `at` (RFC 3339; without an offset it is read in `timezone`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_tag_required)

    type: Literal["date"] = "date"
    at: datetime
    timezone: str = Field(DEFAULT_TIMEZONE, json_schema_extra=ZONES)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @property
    def at_utc(self) -> datetime:
        at = self.at if self.at.tzinfo else self.at.replace(tzinfo=zone(self.timezone))
        return at.astimezone(UTC)

    def next_after(self, after: datetime, anchor: datetime) -> datetime | None:
        return self.at_utc if self.at_utc > after else None


AnyTrigger = CronTrigger | IntervalTrigger | DateTrigger
Trigger = Annotated[AnyTrigger, Field(discriminator="type")]  # for validation
