"""The catalog's OpenAPI document (`GET /api/v1/catalog/openapi.json`), for the gateway to
merge. Request bodies and query parameters come from the pydantic models that validate them;
answers are named, with their shapes described in docs/catalog.md."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.catalog.entrypoints import schemas

PREFIX = "/api/v1/catalog"
PROBLEM = {"description": "problem+json", "content": {"application/problem+json": {
    "schema": {"$ref": "#/components/schemas/Problem"}}}}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
ADMIN_ERRORS = {"401": PROBLEM, "403": PROBLEM, "422": PROBLEM}


def _ok(description: str, status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": {"application/json": {}}}}


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}


def _query(model: type[BaseModel]) -> list[dict[str, Any]]:
    props = model.model_json_schema()["properties"]
    return [{"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in props.items()]


PAGE = [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {"name": "page_size", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": 100}}]
ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]

WRITABLE: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "banners": (schemas.BannerIn, schemas.BannerPatch),
    "categories": (schemas.CategoryIn, schemas.CategoryPatch),
    "courses": (schemas.CourseIn, schemas.CoursePatch),
    "teachers": (schemas.TeacherIn, schemas.TeacherPatch),
    "chapters": (schemas.ChapterIn, schemas.ChapterPatch),
    "sections": (schemas.SectionIn, schemas.SectionPatch),
}


def _member(patch: type[BaseModel]) -> dict[str, Any]:
    return {
        "parameters": ID,
        "patch": {"security": BEARER, "requestBody": _body(patch),
                  "responses": {**_ok("the row"), **ADMIN_ERRORS, "404": PROBLEM}},
        "delete": {"security": BEARER, "responses": {
            "204": {"description": "soft-deleted"}, **ADMIN_ERRORS, "404": PROBLEM}},
    }


def _create(model: type[BaseModel]) -> dict[str, Any]:
    return {"security": BEARER, "requestBody": _body(model),
            "responses": {**_ok("the new row", "201"), **ADMIN_ERRORS, "400": PROBLEM}}


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        f"{PREFIX}/banners": {"get": {"summary": "Shown banners by orders (cached)",
                                      "responses": _ok("[{id,title,image,link,info,orders}]")}},
        f"{PREFIX}/categories": {"get": {"responses": _ok("[{id,name}]")}},
        f"{PREFIX}/courses": {"get": {
            "parameters": [*_query(schemas.CourseQuery), *PAGE],
            "responses": {**_ok("{count,next,previous,results}"), "400": PROBLEM}}},
        f"{PREFIX}/courses/{{id}}": {"parameters": ID, "get": {
            "responses": {**_ok("course with chapters"), "404": PROBLEM}}},
        f"{PREFIX}/teachers": {"get": {"parameters": PAGE,
                                       "responses": {**_ok("page of teachers"), "400": PROBLEM}}},
        f"{PREFIX}/teachers/{{id}}": {"parameters": ID, "get": {
            "responses": {**_ok("teacher"), "404": PROBLEM}}},
        f"{PREFIX}/courses/{{id}}/chapters": {"parameters": ID,
                                              "post": _create(schemas.ChapterIn)},
        f"{PREFIX}/chapters/{{id}}/sections": {"parameters": ID,
                                               "post": _create(schemas.SectionIn)},
    }
    components: dict[str, Any] = {"Problem": {"type": "object", "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}},
    }}}
    for collection, (create, patch) in WRITABLE.items():
        if collection not in ("chapters", "sections"):
            paths[f"{PREFIX}/{collection}"].setdefault("post", _create(create))
        paths.setdefault(f"{PREFIX}/{collection}/{{id}}", {"parameters": ID}).update(
            {k: v for k, v in _member(patch).items() if k != "parameters"})
        for model in (create, patch):
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(schema.pop("$defs", {}))
            components[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {"title": "coursestream catalog", "version": "1"},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
