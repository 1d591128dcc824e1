"""Run times of cron, interval and date triggers, across DST changes and in Asia/Shanghai."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.scheduler.domain.triggers import (
    CRON_PATTERN,
    CronTrigger,
    DateTrigger,
    IntervalTrigger,
)

NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
ANCHOR = datetime(2024, 1, 1, tzinfo=UTC)


def runs(trigger: CronTrigger | IntervalTrigger, start: datetime, count: int) -> list[datetime]:
    found, at = [], start
    for _ in range(count):
        nxt = trigger.next_after(at, ANCHOR)
        assert nxt is not None and nxt > at and nxt.tzinfo is UTC
        found.append(nxt)
        at = nxt
    return found


def local(moments: list[datetime], zone: ZoneInfo) -> list[str]:
    return [m.astimezone(zone).strftime("%m-%d %H:%M%z") for m in moments]


def test_shanghai_has_no_dst_and_is_the_default() -> None:
    trigger = CronTrigger(expr="0 8 * * *")
    assert trigger.timezone == "Asia/Shanghai"
    found = runs(trigger, datetime(2024, 3, 8, 12, tzinfo=UTC), 3)
    assert local(found, SHANGHAI) == ["03-09 08:00+0800", "03-10 08:00+0800", "03-11 08:00+0800"]
    assert [m.hour for m in found] == [0, 0, 0]  # always 00:00 UTC


def test_spring_forward_gap_runs_once_just_after_the_change() -> None:
    # 2024-03-10 02:00 does not exist in New York; 02:30 runs at 03:00 EDT, once.
    trigger = CronTrigger(expr="30 2 * * *", timezone="America/New_York")
    found = runs(trigger, datetime(2024, 3, 9, 12, tzinfo=UTC), 3)
    assert local(found, NEW_YORK) == ["03-10 03:00-0400", "03-11 02:30-0400", "03-12 02:30-0400"]


def test_spring_forward_hourly_skips_the_missing_hour() -> None:
    trigger = CronTrigger(expr="0 * * * *", timezone="America/New_York")
    found = runs(trigger, datetime(2024, 3, 10, 5, 30, tzinfo=UTC), 3)  # 00:30 EST
    assert local(found, NEW_YORK) == ["03-10 01:00-0500", "03-10 03:00-0400", "03-10 04:00-0400"]
    assert found[1] - found[0] == timedelta(hours=1)  # one real hour apart


def test_fall_back_fold_runs_a_fixed_time_once() -> None:
    # 01:30 happens twice on 2024-11-03 in New York; the job runs at the first only.
    trigger = CronTrigger(expr="30 1 * * *", timezone="America/New_York")
    found = runs(trigger, datetime(2024, 11, 2, 12, tzinfo=UTC), 3)
    assert local(found, NEW_YORK) == ["11-03 01:30-0400", "11-04 01:30-0500", "11-05 01:30-0500"]


def test_fall_back_hourly_runs_in_both_folds() -> None:
    trigger = CronTrigger(expr="0 * * * *", timezone="America/New_York")
    found = runs(trigger, datetime(2024, 11, 3, 4, 30, tzinfo=UTC), 3)  # 00:30 EDT
    assert local(found, NEW_YORK) == ["11-03 01:00-0400", "11-03 01:00-0500", "11-03 02:00-0500"]
    assert {b - a for a, b in itertools.pairwise(found)} == {timedelta(hours=1)}


def test_ranges_steps_and_names_are_cron_as_usual() -> None:
    # Office hours on weekdays: 09:00 to 17:00 Shanghai time, Friday then Monday.
    trigger = CronTrigger(expr="0 9-17/4 * * MON-FRI", timezone="Asia/Shanghai")
    found = runs(trigger, datetime(2026, 12, 4, 8, tzinfo=UTC), 3)  # Friday 16:00 local
    assert local(found, ZoneInfo("Asia/Shanghai")) == [
        "12-04 17:00+0800", "12-07 09:00+0800", "12-07 13:00+0800"]
    assert re.fullmatch(CRON_PATTERN, trigger.expr)


@pytest.mark.parametrize("expr", ["61 * * * *", "* * *", "0 0 * * * *", "0 0 30 2 *", "x"])
def test_invalid_cron_is_refused(expr: str) -> None:
    with pytest.raises(ValidationError):
        CronTrigger(expr=expr)


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        CronTrigger(expr="0 8 * * *", timezone="Mars/Olympus")


def test_interval_counts_real_seconds_from_its_anchor() -> None:
    trigger = IntervalTrigger(every_s=300)
    assert trigger.next_after(ANCHOR - timedelta(hours=1), ANCHOR) == ANCHOR
    assert trigger.next_after(ANCHOR, ANCHOR) == ANCHOR + timedelta(seconds=300)
    late = ANCHOR + timedelta(days=400, seconds=1)
    nxt = trigger.next_after(late, ANCHOR)
    assert nxt is not None and (nxt - ANCHOR).total_seconds() % 300 == 0 and nxt > late
    # Across a DST change an interval stays exactly `every_s` apart.
    hourly = IntervalTrigger(every_s=3600, start_at=datetime(2024, 3, 10, 0, tzinfo=NEW_YORK))
    found = runs(hourly, datetime(2024, 3, 10, 5, tzinfo=UTC), 3)
    assert {b - a for a, b in itertools.pairwise(found)} == {timedelta(hours=1)}


def test_date_reads_a_naive_time_in_its_zone_and_fires_once() -> None:
    trigger = DateTrigger(at=datetime(2030, 5, 1, 9, 0), timezone="Asia/Shanghai")
    assert trigger.at_utc == datetime(2030, 5, 1, 1, 0, tzinfo=UTC)
    assert trigger.next_after(ANCHOR, ANCHOR) == trigger.at_utc
    assert trigger.next_after(trigger.at_utc, ANCHOR) is None
