"""The AsyncAPI document of the streams (`shared.asyncapi`): valid AsyncAPI 3.0 by the
reference parser, built from the registry's own models, and naming every event type the code
writes."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
from click.testing import CliRunner

from coursestream.cli import main
from coursestream.web_client import WEB, ensure_installed, node_bin_dir
from shared.asyncapi import asyncapi_document, envelope_model
from shared.event_types import EVENT_TYPES, STREAMS
from tests.shared.test_event_types import published_types

# Run with node from web/, where `npm ci` installs @asyncapi/parser (a devDependency).
VALIDATE = """
import { Parser } from "@asyncapi/parser";
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { document, diagnostics } = await new Parser().parse(Buffer.concat(chunks).toString());
const errors = diagnostics.filter((d) => d.severity === 0);
console.log(JSON.stringify({
  errors: errors.map((d) => ({ code: d.code, message: d.message, path: d.path })),
  version: document ? document.version() : null,
  channels: document ? document.channels().length : 0,
  messages: document ? document.allMessages().all().map((m) => m.name()) : [],
}));
"""


def parse(document: dict[str, Any]) -> dict[str, Any]:
    ensure_installed()
    env = {**os.environ, "PATH": f"{node_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        ["node", "--input-type=module", "-e", VALIDATE], cwd=WEB, env=env,
        input=json.dumps(document), capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return found


@pytest.mark.web
@pytest.mark.timeout(300)
def test_the_document_is_valid_asyncapi_3_by_the_reference_parser() -> None:
    found = parse(asyncapi_document())
    assert found["errors"] == []
    assert found["version"] == "3.0.0"
    assert sorted(set(found["messages"])) == sorted(EVENT_TYPES)
    # The parser does refuse a broken document.
    broken = json.loads(json.dumps(asyncapi_document()))
    operation = broken["operations"]["notify.sms:sms-sender"]
    operation["messages"][0]["$ref"] += "-missing"
    assert [error["code"] for error in parse(broken)["errors"]] == ["invalid-ref"]


def test_every_stream_group_and_producer_is_an_operation() -> None:
    document = asyncapi_document()
    operations = {(document["channels"][name.split("/")[-1]]["address"], op["action"],
                   document["channels"][name.split("/")[-1]]["bindings"]["redis"].get(
                       "groupName"))
                  for name, op in document["operations"].items()}
    for stream in STREAMS:
        for group in stream.groups:
            assert (stream.key, "receive", group) in operations
        assert ((stream.key, "receive", None) in operations) == (stream.readers is not None)
        channels = [c for c in document["channels"].values() if c["address"] == stream.key]
        described = " ".join(c["description"] for c in channels)
        for producer in stream.producers:
            assert f"Written by {producer}." in described


def test_each_message_is_the_envelope_with_its_types_data_model() -> None:
    document = asyncapi_document()
    schemas = document["components"]["schemas"]
    for name, event in EVENT_TYPES.items():
        message = document["components"]["messages"][name]
        payload = schemas[message["payload"]["$ref"].rsplit("/", 1)[-1]]
        assert payload["properties"]["type"]["const"] == name
        assert set(payload["properties"]) == set(schemas["Envelope"]["properties"])
        data = schemas[payload["properties"]["data"]["$ref"].rsplit("/", 1)[-1]]
        own = event.data.model_json_schema(ref_template="#/components/schemas/{model}")
        own.pop("$defs", None)
        assert data == own, name
        assert envelope_model(event).__name__ == message["payload"]["$ref"].rsplit("/", 1)[-1]


def test_every_event_type_written_in_the_code_is_a_message_of_the_document() -> None:
    messages = set(asyncapi_document()["components"]["messages"])
    written = published_types()
    assert {name: where for name, where in written.items() if name not in messages} == {}


def test_the_command_prints_the_document() -> None:
    result = CliRunner().invoke(main, ["asyncapi"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == asyncapi_document()
