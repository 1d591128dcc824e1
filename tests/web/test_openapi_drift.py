"""The web client's view of the API against the API's own document.

- web/openapi.json must be the document the code builds now (`coursestream openapi`), so a
  changed route, parameter or body shows up here first;
- web/src/api/schema.d.ts must be what openapi-typescript makes of it (needs Node);
- the answers the documents name in words ("{id,title,...}") must carry the fields the
  client's hand-written answer types declare, and no field may be missing from them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from coursestream.web_client import (
    WEB,
    ensure_installed,
    node_bin_dir,
    openapi_document,
    openapi_text,
)

REGENERATE = ".venv/bin/coursestream openapi > web/openapi.json && (cd web && npm run gen:api)"

# answer described in the document -> the interface in web/src/api/types.ts
ANSWERS = {
    ("/api/v1/catalog/banners", "get", "200"): "Banner",
    ("/api/v1/catalog/categories", "get", "200"): "Category",
    ("/api/v1/seckill/items/{id}", "get", "200"): "SaleItem",
    ("/api/v1/seckill/items/{id}/attempts", "post", "202"): "Attempt",
    ("/api/v1/seckill/tickets/{ticket}", "get", "200"): "Ticket",
    ("/api/v1/seckill/orders/{id}", "get", "200"): "Order",
    ("/api/v1/seckill/items", "get", "200"): "Page",
    ("/api/v1/auth/sms-codes", "post", "202"): "CodeSent",
    ("/api/v1/auth/tokens", "post", "200"): "Tokens",
    ("/api/v1/auth/tokens/refresh", "post", "200"): "Tokens",
}


def test_the_committed_document_is_the_one_the_code_builds() -> None:
    committed = (WEB / "openapi.json").read_text()
    assert committed == openapi_text(), f"web/openapi.json is stale: {REGENERATE}"


def _interface_fields(name: str) -> set[str]:
    source = (WEB / "src" / "api" / "types.ts").read_text()
    match = re.search(rf"export interface {name}(?:<\w+>)? (?:extends [^{{]+)?\{{(.*?)\n\}}",
                      source, re.S)
    assert match, f"no interface {name} in types.ts"
    return set(re.findall(r"^\s+(\w+)\??:", match.group(1), re.M))


def _described_fields(description: str) -> set[str]:
    outer = description.strip().strip("[]").strip()
    inner = outer[1:-1] if outer.startswith("{") else outer
    inner = re.sub(r"\{[^}]*\}", "", inner)  # nested shapes: their key stays, e.g. links
    return {re.sub(r":.*", "", part).strip() for part in inner.split(",") if part.strip()}


@pytest.mark.parametrize(("key", "interface"), ANSWERS.items(), ids=lambda v: str(v))
def test_answer_types_carry_the_documented_fields(key: tuple[str, str, str],
                                                  interface: str) -> None:
    path, method, status = key
    document = openapi_document()
    description = document["paths"][path][method]["responses"][status]["description"]
    assert description.strip().startswith(("{", "[")), description
    documented = _described_fields(description)
    assert documented == _interface_fields(interface), (
        f"{method.upper()} {path} answers {description}; types.ts {interface} differs")


@pytest.mark.web
@pytest.mark.timeout(300)
def test_generated_types_match_the_document(tmp_path: Path) -> None:
    ensure_installed()
    out = tmp_path / "schema.d.ts"
    bin_dir = node_bin_dir()
    subprocess.run([str(bin_dir / "node"), str(WEB / "node_modules" / "openapi-typescript" /
                    "bin" / "cli.js"), "openapi.json", "-o", str(out)], cwd=WEB, check=True,
                   capture_output=True, timeout=240)
    committed = (WEB / "src" / "api" / "schema.d.ts").read_text()
    assert out.read_text() == committed, f"schema.d.ts is stale: {REGENERATE}"
    assert json.loads((WEB / "openapi.json").read_text())["openapi"].startswith("3.1")
