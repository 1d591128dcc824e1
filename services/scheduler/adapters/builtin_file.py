"""The built-in schedules' config file (TOML, `[[schedules]]` tables)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from services.scheduler.domain.schedules import ScheduleSpec, check_event


def load_builtins(path: Path) -> list[ScheduleSpec]:
    with path.open("rb") as fh:
        document = tomllib.load(fh)
    specs = [ScheduleSpec.model_validate(item) for item in document.get("schedules", [])]
    if any(spec.id is None for spec in specs):
        raise ValueError(f"{path}: every built-in schedule needs an id")
    for spec in specs:  # a bad one is refused at start, not dead-lettered every period
        check_event(spec.event.stream, spec.event.type, spec.event.data,
                    prefix=f"{path}: {spec.id}: event.")
    return specs
