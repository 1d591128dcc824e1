"""Pieces of every service's OpenAPI 3.1 document (served at `/api/v1/<service>/openapi.json`
and merged by the gateway): the problem answer, common parameters, and the document itself."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from shared.pagination import MAX_PAGE_SIZE

PROBLEM: dict[str, Any] = {"description": "problem+json", "content": {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
PAGE = [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {"name": "page_size", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}}]
PROBLEM_SCHEMA = {"type": "object", "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}},
}}


def path_param(name: str, type_: str = "integer") -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": type_}}]


def ok(description: str, status: str = "200", media: str = "application/json") -> dict[str, Any]:
    return {status: {"description": description, "content": {media: {}}}}


def errors(*statuses: int | str) -> dict[str, Any]:
    """Problem answers for these statuses."""
    return {str(status): PROBLEM for status in statuses}


def body(model: type[BaseModel]) -> dict[str, Any]:
    """A required JSON body validated by `model` (listed in the document's `models`)."""
    return {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}


def document(
    service: str, paths: dict[str, Any], models: Iterable[type[BaseModel]] = ()
) -> dict[str, Any]:
    """The whole document: `paths`, the schemas of `models` and the problem schema."""
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {"title": f"coursestream {service}", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
