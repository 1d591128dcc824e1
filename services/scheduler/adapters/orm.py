"""The scheduler's tables: schedules and their run history."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from shared.db import UTCDateTime

metadata = MetaData()

schedules = Table(
    "schedules",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("trigger", JSON, nullable=False),
    Column("event_stream", String(200), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("event_data", JSON, nullable=False),
    Column("misfire_grace_s", Integer, nullable=False),
    Column("jitter_s", Integer, nullable=False),
    Column("coalesce", Boolean, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("builtin", Boolean, nullable=False, default=False),
    # Hash of the config file's definition: the file wins only when it changed.
    Column("builtin_hash", String(64), nullable=True),
    Column("next_nominal_at", UTCDateTime, nullable=True),
    Column("next_fire_at", UTCDateTime, nullable=True),
    # Bumped by every API change; the leader's writes are compare-and-set on it.
    Column("revision", Integer, nullable=False, default=0),
    # Scheduled fires still to come (null: unlimited), decremented with the runs recorded.
    Column("runs_left", Integer, nullable=True),
    # Who paused it, when and why, while it is paused.
    Column("paused_at", UTCDateTime, nullable=True),
    Column("paused_by", String(200), nullable=True),
    Column("pause_note", String(500), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_schedules_due", "enabled", "next_fire_at"),
)

schedule_runs = Table(
    "schedule_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("schedule_id", String(64), ForeignKey("schedules.id", ondelete="CASCADE"),
           nullable=False),
    Column("nominal_at", UTCDateTime, nullable=False),
    Column("fired_at", UTCDateTime, nullable=True),
    Column("event_id", String(40), nullable=True),
    Column("lateness_ms", Integer, nullable=True),
    Column("outcome", String(16), nullable=False),
    UniqueConstraint("schedule_id", "nominal_at", name="uq_schedule_runs_nominal"),
)
