"""Pieces of every service's OpenAPI 3.1 document (served at `/api/v1/<service>/openapi.json`
and merged by the gateway): the problem answer, common parameters, and the document itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import cache
from typing import Any

import jsonschema_rs
from pydantic import BaseModel, GetJsonSchemaHandler, TypeAdapter
from pydantic.json_schema import JsonSchemaValue

from shared.pagination import MAX_PAGE, MAX_PAGE_SIZE

# Every problem answer points at one response of the document's components.
PROBLEM: dict[str, Any] = {"$ref": "#/components/responses/Problem"}
PROBLEM_RESPONSE: dict[str, Any] = {"description": "problem+json", "content": {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
PAGE = [{"name": "page", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
        {"name": "page_size", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}}]
PROBLEM_SCHEMA = {"type": "object", "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}},
}}


# What `shared.http.conditional` adds to a read: validators on the answer, and a 304 for a
# client that sends back the tag it holds.
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False,
                 "description": "ETags the client holds (or `*`): 304 when one still matches",
                 "schema": {"type": "string"}}
VALIDATORS = {
    "ETag": {"description": "strong tag of the body (weak, W/, when compressed)",
             "schema": {"type": "string"}},
    "Cache-Control": {"description": "how long a copy may be used before revalidating",
                      "schema": {"type": "string"}},
}


def revalidated(operation: dict[str, Any]) -> dict[str, Any]:
    """`operation` (a GET answered through `shared.http.conditional`) with `If-None-Match`,
    the validators on its 200 and its 304."""
    operation["parameters"] = [*operation.get("parameters", []), IF_NONE_MATCH]
    operation["responses"]["200"]["headers"] = VALIDATORS
    operation["responses"]["304"] = {"description": "not modified: the copy held is current",
                                     "headers": VALIDATORS}
    return operation


def path_param(name: str, type_: str = "integer") -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": type_}}]


def ref(model: type) -> dict[str, str]:
    """A reference to `model`'s schema (listed in the document's `models` or `answers`)."""
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def ok(description: str, status: str = "200", media: str = "application/json",
       model: type | None = None, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A success answer: its body is `model` (a TypedDict or pydantic model listed in the
    document's `answers`), or `schema`."""
    content = {"schema": ref(model)} if model is not None else {"schema": schema} if schema else {}
    return {status: {"description": description, "content": {media: content}}}


def page_of(model: type) -> dict[str, Any]:
    """The schema of a `shared.pagination.page_body` page of `model` rows."""
    link = {"type": ["string", "null"]}
    return {"type": "object", "required": ["count", "next", "previous", "results"],
            "properties": {"count": {"type": "integer", "minimum": 0}, "next": link,
                           "previous": link,
                           "results": {"type": "array", "items": ref(model)}}}


def errors(*statuses: int | str) -> dict[str, Any]:
    """Problem answers for these statuses."""
    return {str(status): PROBLEM for status in statuses}


def body(model: type[BaseModel]) -> dict[str, Any]:
    """A required JSON body validated by `model` (listed in the document's `models`)."""
    return {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}


class SchemaOf:
    """`Annotated[dict[str, Any], SchemaOf(Model)]`: a field holding `Model` already dumped to
    a dict (say with `exclude_none`), described by `Model`'s own JSON schema."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __get_pydantic_json_schema__(
        self, core_schema: Any, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(TypeAdapter(self.model).core_schema)


def inlined(model: Any) -> dict[str, Any]:
    """The JSON schema of `model` (a type pydantic knows) with its `$defs` written in place:
    for where a schema cannot point at the document's components."""
    schema = TypeAdapter(model).json_schema()
    return _inline(schema, schema.pop("$defs", {}))


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.rsplit("/", 1)[-1]], defs)
        return {key: _inline(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def money(digits: int) -> tuple[Decimal, Callable[[dict[str, Any]], None]]:
    """The highest amount with `digits` digits before the point and two after, and the
    `json_schema_extra` that says so: a JSON number in cents, or a string of that form. Use
    both with `Field(ge=0, le=top, max_digits=digits + 2, decimal_places=2)`."""
    top = Decimal(10**digits) - Decimal("0.01")

    def schema(node: dict[str, Any]) -> None:
        node.pop("anyOf", None)
        node["anyOf"] = [
            {"type": "number", "minimum": 0, "maximum": float(top), "multipleOf": 0.01},
            {"type": "string", "pattern": rf"^(0|[1-9][0-9]{{0,{digits - 1}}})(\.[0-9]{{1,2}})?$"}]

    return top, schema


@cache
def _validator(model: type[BaseModel]) -> Any:
    return jsonschema_rs.validator_for(model.model_json_schema())


def schema_errors(model: type[BaseModel], payload: Any) -> list[dict[str, Any]]:
    """Where `payload` breaks `model`'s JSON schema, the one in the document. Checked before
    pydantic, whose lax mode would take `0` for `false` or `"1"` for `1`: what the document
    refuses, the API refuses."""
    return [{"loc": ["body", *error.instance_path], "msg": error.message, "type": "schema"}
            for error in _validator(model).iter_errors(payload)]


def _answers(operation: dict[str, Any], parameters: list[dict[str, Any]]) -> None:
    """The problems every operation of this shape can answer, added to what it names: a body
    (400 not JSON, 413 too large, 415 declared as another type, 422 invalid), a path parameter
    (404), a query (400), a token (401 missing or revoked, 503 when tokens cannot be checked)."""
    kinds = {parameter["in"] for parameter in [*parameters, *operation.get("parameters", [])]}
    statuses: list[int] = []
    if "requestBody" in operation:
        statuses += [400, 413, 415, 422]
    if "path" in kinds:
        statuses.append(404)
    if "query" in kinds or "header" in kinds:
        statuses.append(400)
    if "security" in operation:
        statuses += [401, 503]
    responses = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(str(status), PROBLEM)


def complete(paths: dict[str, Any]) -> dict[str, Any]:
    """`paths` with the answers of `_answers` added to each operation."""
    for item in paths.values():
        for method, operation in item.items():
            if method != "parameters":
                _answers(operation, item.get("parameters", []))
    return paths


def component_schemas(
    models: Iterable[type[BaseModel]] = (), answers: Iterable[type] = ()
) -> dict[str, Any]:
    """The problem schema, the schemas of the request `models` (as they validate) and of the
    `answers` (TypedDicts or models, as they render), each under its class name."""
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    for kinds, mode in ((models, "validation"), (answers, "serialization")):
        for model in kinds:
            schema = TypeAdapter(model).json_schema(
                ref_template="#/components/schemas/{model}", mode=mode)  # type: ignore[arg-type]
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
    return schemas


def document(
    service: str, paths: dict[str, Any], models: Iterable[type[BaseModel]] = (),
    answers: Iterable[type] = (),
) -> dict[str, Any]:
    """The whole document: `paths`, the problem schema and those of `models` and `answers`
    (`component_schemas`)."""
    schemas = component_schemas(models, answers)
    return {
        "openapi": "3.1.0",
        "info": {"title": f"coursestream {service}", "version": "1"},
        "paths": complete(paths),
        "components": {"schemas": schemas, "responses": {"Problem": PROBLEM_RESPONSE},
                       "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
