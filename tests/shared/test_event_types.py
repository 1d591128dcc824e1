"""The event registry (`shared.event_types`): what `check_event` refuses, and that every
event type the code writes is one of its types."""

from __future__ import annotations

import ast
import functools
import importlib
import re
import tomllib
from pathlib import Path

import pytest

from services.scheduler.domain.sms import SmsMessage
from shared.event_types import EVENT_TYPES, STREAMS, check_event, stream_named
from tests.support.fresh import in_fresh_interpreter

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "shared", ROOT / "services", ROOT / "coursestream"]
# Calls whose argument is the type of an event written (`Envelope(type=...)`, seckill's
# `_event(type, ...)`, the catalog's `Entity(name, model, type)`), and where it sits.
TYPE_ARGUMENTS = {"Envelope": "type", "_event": 0, "_sale_event": 0, "_order_event": 0, "Entity": 2}
# A type passed through from what was asked for: the scheduler writes what a delay or a
# schedule names (checked by `check_event` when it is asked for), a helper what it is given.
PASSED_THROUGH = {"request.type", "schedule.event.type", "event_type", "entity.event"}


def test_a_known_event_with_its_data_is_right() -> None:
    assert check_event("notify.sms", "sms.send", {"phone": "18888888", "code": "6666"}) == []
    assert check_event("seckill:{p3}:orders", "order.requested", {
        "ticket": "1-ab", "item_id": 1, "user_id": 2, "price": "39.90"}) == []
    assert check_event("catalog.commands", "banners.rebuild-cache", {}) == []


@pytest.mark.parametrize("stream, event_type, data, fields", [
    ("notify.sms", "sms.send", {"phone": "18888888"}, ["data"]),
    ("notify.sms", "sms.send", {"phone": "1", "code": "x"}, ["data.phone", "data.code"]),
    ("notify.sms", "sms.send", {"phone": "18888888", "code": "6666", "params": {"a": 1}},
     ["data"]),
    ("notify.sms", "order.expire", {"order_id": 1}, ["type"]),
    ("seckill:{p0}:orders", "order.requested", {"ticket": "t"}, [
        "data.item_id", "data.user_id", "data.price"]),
])
def test_a_mismatch_names_its_fields(
    stream: str, event_type: str, data: dict[str, object], fields: list[str]
) -> None:
    assert [field for field, _ in check_event(stream, event_type, data)] == fields


def test_a_stream_the_registry_does_not_know_is_not_checked() -> None:
    assert stream_named("test.out") is None and stream_named("seckill::orders") is None
    assert check_event("test.out", "anything", {"x": 1}) == []


def test_the_seed_sms_form_is_the_login_code_text() -> None:
    sms = SmsMessage.model_validate({"phone": "18888888", "code": "6666"})
    assert (sms.template, sms.params) == ("login_code", {"code": "6666"})
    assert sms.text() == "Your coursestream login code is 6666. It is valid for 5 minutes."
    # Read again as it was dumped (a retry, a replay): still one form.
    assert SmsMessage.model_validate(sms.model_dump(exclude_none=True)) == sms


def _value(module: str, node: ast.expr) -> str | None:
    """The string an argument names: a literal, or a module-level name of its module."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if ast.unparse(node) in PASSED_THROUGH:
        return None
    if isinstance(node, ast.Name):
        value = getattr(importlib.import_module(module), node.id)
        assert isinstance(value, str), (module, node.id)
        return value
    raise AssertionError(f"{module}: an event type the test cannot read: {ast.unparse(node)}")


@functools.cache
def published_types() -> dict[str, str]:
    """Every event type the code writes (Python, Lua, the built-in schedules), with where.
    Read in a fresh interpreter (tests/support/fresh.py)."""
    return dict(in_fresh_interpreter("tests.shared.test_event_types", "scan"))


def scan() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in (p for source in SOURCES for p in source.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            where = TYPE_ARGUMENTS.get(node.func.id)
            if isinstance(where, str):
                args = [k.value for k in node.keywords if k.arg == where]
            else:
                args = node.args[where:where + 1] if where is not None else []
            for arg in args:
                if (value := _value(module, arg)) is not None:
                    found[value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    for path in (ROOT / "services").rglob("*.lua"):
        for match in re.finditer(r"encode_entry\(\s*[^,]+,\s*'([^']+)'", path.read_text()):
            found[match.group(1)] = str(path.relative_to(ROOT))
    for path in (ROOT / "services").rglob("*.toml"):
        for schedule in tomllib.loads(path.read_text()).get("schedules", []):
            found[schedule["event"]["type"]] = str(path.relative_to(ROOT))
    return found


def test_the_scan_finds_the_writers_it_should() -> None:
    found = published_types()
    assert found["order.requested"].endswith("admit.lua")
    assert found["sms.send"].startswith("services/gateway/")
    assert {"banner.changed", "course.changed", "order.created", "order.expired",
            "delay.requested", "banners.rebuild-cache", "orders.sweep-expired"} <= set(found)


def test_every_event_type_written_in_the_code_is_in_the_registry() -> None:
    unknown = {name: where for name, where in published_types().items()
               if name not in EVENT_TYPES}
    assert not unknown


def test_every_registered_type_is_on_a_registered_stream() -> None:
    assert {event.stream for event in EVENT_TYPES.values()} == set(STREAMS)
