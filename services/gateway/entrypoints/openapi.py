"""`/api/v1/openapi.json`: the gateway's own auth paths merged with each service's document
(`/api/v1/<service>/openapi.json`, fetched through the proxy's pool), and `/api/docs`, a page
that lists them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from services.gateway.entrypoints.cors import HEADER_REFS, HEADERS, Cors, described
from services.gateway.entrypoints.schemas import (
    CodeRequest,
    CodeSent,
    Me,
    RefreshRequest,
    TokenRequest,
)
from services.gateway.handlers import Tokens
from shared.http import json_response
from shared.logging import get_logger
from shared.openapi import PROBLEM, PROBLEM_RESPONSE, body, complete, component_schemas, ok

log = get_logger(__name__)

FetchJson = Callable[[str], Awaitable[Any]]
CACHE_S = 30.0  # services change their documents only when they are redeployed
DOCS_PAGE = Path(__file__).with_name("api_docs.html")
TOKENS = ("{access_token, token_type, expires_in, refresh_token, refresh_expires_in, "
          "user}")


def gateway_document() -> dict[str, Any]:
    schemas = component_schemas([CodeRequest, TokenRequest, RefreshRequest],
                                [CodeSent, Tokens, Me])
    return {
        "openapi": "3.1.0",
        "info": {"title": "coursestream", "version": "1"},
        "paths": complete({
            "/api/v1/auth/sms-codes": {"post": {
                "summary": "Send a login code by SMS (one per phone per 60 s)",
                "requestBody": body(CodeRequest),
                "responses": {**ok("{expires_in, resend_after}", "202", model=CodeSent),
                              "422": PROBLEM,
                              "429": PROBLEM, "503": PROBLEM},
            }},
            "/api/v1/auth/tokens": {"post": {
                "summary": "Log in with phone and password, or phone and SMS code",
                "requestBody": body(TokenRequest),
                "responses": {**ok(TOKENS, model=Tokens), "401": PROBLEM, "403": PROBLEM,
                              "422": PROBLEM, "429": PROBLEM, "503": PROBLEM},
            }},
            "/api/v1/auth/tokens/refresh": {"post": {
                "summary": "A new token pair for a refresh token, which is used up",
                "requestBody": body(RefreshRequest),
                "responses": {**ok(TOKENS, model=Tokens), "401": PROBLEM, "403": PROBLEM,
                              "422": PROBLEM, "429": PROBLEM, "503": PROBLEM},
            }},
            "/api/v1/auth/logout": {"post": {
                "summary": "End the bearer token's session", "security": [{"bearer": []}],
                "responses": {"204": {"description": "logged out"}, "401": PROBLEM,
                              "429": PROBLEM, "503": PROBLEM},
            }},
            "/api/v1/auth/me": {"get": {
                "summary": "The bearer token's user", "security": [{"bearer": []}],
                "responses": {**ok("{id, phone, roles, created_at}", model=Me),
                              "401": PROBLEM},
            }},
        }),
        "components": {
            "schemas": schemas, "headers": HEADERS,
            # The gateway's problem answers carry the CORS headers too.
            "responses": {"Problem": {**PROBLEM_RESPONSE, "headers": HEADER_REFS}},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }


# What the gateway itself may answer for any operation it forwards: its rate limits (429),
# an upstream that cannot be reached (502), a limiter that cannot count (503), a deadline (504).
GATEWAY_ANSWERS = ("429", "502", "503", "504")


def _with_gateway_answers(paths: dict[str, Any]) -> dict[str, Any]:
    return {path: {method: operation if method == "parameters" else {
        **operation, "responses": {**{status: PROBLEM for status in GATEWAY_ANSWERS},
                                   **operation.get("responses", {})}}
        for method, operation in item.items()} for path, item in paths.items()}


def merge(base: dict[str, Any], others: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One document: every service's paths, with the CORS headers on every answer; a schema
    whose name another document already uses for a different schema is renamed
    `<service>.<name>`, with its references; other components (the problem answer) are the
    gateway's where it has them."""
    merged = {**base, "paths": dict(base["paths"]),
              "components": {key: dict(value) for key, value in base["components"].items()}}
    schemas = merged["components"].setdefault("schemas", {})
    for service, document in others.items():
        own = document.get("components", {}).get("schemas", {})
        renames = {name: f"{service}.{name}" for name, schema in own.items()
                   if name in schemas and schemas[name] != schema}
        if renames:
            document = _rename_refs(document, renames)
            own = document.get("components", {}).get("schemas", {})
        for name, schema in own.items():
            schemas[renames.get(name, name)] = schema
        merged["paths"].update(_with_gateway_answers(document.get("paths", {})))
        for key, value in document.get("components", {}).items():
            if key != "schemas":
                kept = merged["components"].setdefault(key, {})
                kept.update({name: part for name, part in value.items() if name not in kept})
    merged["paths"] = described(merged["paths"])
    return merged


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[-1]
                value = value[: -len(name)] + renames.get(name, name)
            out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


class OpenApi:
    """Serves the merged document, rebuilt at most every CACHE_S seconds. A service's
    document is asked of its replicas in turn until one answers; a service none of whose
    replicas answers is left out (and named in `x-missing`) until the next rebuild."""

    def __init__(self, replicas: dict[str, list[str]], fetch_json: FetchJson,
                 cors: Cors | None = None) -> None:
        # "/api/v1/catalog" -> ["http://catalog:8001/api/v1/catalog/openapi.json", ...]
        self._sources = {prefix.rsplit("/", 1)[-1]:
                         [f"{url.rstrip('/')}{prefix}/openapi.json" for url in urls]
                         for prefix, urls in replicas.items()}
        self._fetch_json = fetch_json
        self._cors = cors or Cors(())
        self._base = gateway_document()
        self._cached: tuple[float, dict[str, Any]] | None = None

    async def document(self) -> dict[str, Any]:
        if self._cached and time.monotonic() - self._cached[0] < CACHE_S:
            return self._cached[1]
        names = list(self._sources)
        results = await asyncio.gather(*(self._first(name) for name in names))
        found = {name: result for name, result in zip(names, results, strict=True) if result}
        document = merge(self._base, found)
        document["paths"] = self._cors.preflights(document["paths"])
        missing = sorted(set(names) - set(found))
        if missing:
            document["info"] = {**document["info"], "x-missing": missing}
        self._cached = (time.monotonic(), document)
        return document

    async def _first(self, name: str) -> dict[str, Any] | None:
        """The document of the first of `name`'s replicas that gives one."""
        for url in self._sources[name]:
            try:
                result = await self._fetch_json(url)
            except Exception as exc:  # down, refused, not JSON: ask the next replica
                result = exc
            if isinstance(result, dict) and "paths" in result:
                return result
            log.info("no OpenAPI document from upstream", service=name, url=url,
                     error=repr(result))
        return None

    async def serve_document(self, request: web.Request) -> web.Response:
        return json_response(await self.document())

    async def serve_docs(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(DOCS_PAGE)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/openapi.json", self.serve_document)
        app.router.add_get("/api/docs", self.serve_docs)
