"""The catalog's OpenAPI document (`GET /api/v1/catalog/openapi.json`), for the gateway to
merge. Request bodies and query parameters come from the pydantic models that validate them;
answers are named, with their shapes described in docs/catalog.md."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.catalog.entrypoints import schemas
from shared.openapi import BEARER, PAGE, PROBLEM, body, errors, ok, path_param, revalidated
from shared.openapi import document as openapi_document

PREFIX = "/api/v1/catalog"
ADMIN_ERRORS = errors(403)
ID = path_param("id")


def _query(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    # A parameter's schema has no home for `$defs`: enums (CourseKind) are inlined, or the
    # document would point at "#/$defs/..." that it does not hold.
    return [{"name": name, "in": "query", "required": False, "schema": _inline(prop, defs)}
            for name, prop in schema["properties"].items()]


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.rsplit("/", 1)[-1]], defs)
        return {key: _inline(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


WRITABLE: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "banners": (schemas.BannerIn, schemas.BannerPatch),
    "categories": (schemas.CategoryIn, schemas.CategoryPatch),
    "courses": (schemas.CourseIn, schemas.CoursePatch),
    "teachers": (schemas.TeacherIn, schemas.TeacherPatch),
    "chapters": (schemas.ChapterIn, schemas.ChapterPatch),
    "sections": (schemas.SectionIn, schemas.SectionPatch),
}


def _op_id(verb: str, collection: str) -> str:
    return f"catalog{verb}{collection[:-1].capitalize()}"  # catalogPatchCourse


def _links(*operations: str) -> dict[str, Any]:
    return {operation: {"operationId": operation, "parameters": {"id": "$response.body#/id"}}
            for operation in operations}


def _member(collection: str, patch: type[BaseModel]) -> dict[str, Any]:
    changed = ok("the row")
    changed["200"]["links"] = _links(_op_id("Delete", collection))
    return {
        "patch": {"operationId": _op_id("Patch", collection), "security": BEARER,
                  "requestBody": body(patch),
                  "responses": {**changed, **ADMIN_ERRORS, "409": PROBLEM}},
        "delete": {"operationId": _op_id("Delete", collection), "security": BEARER,
                   "responses": {"204": {"description": "soft-deleted"}, **ADMIN_ERRORS}},
    }


# What can be done with a row just created: read it, add to it, change it (and then delete
# it: the link is on the change, so a row is changed before it is gone).
FOLLOW = {"courses": ("catalogGetCourse", "catalogCreateChapter"),
          "chapters": ("catalogCreateSection",), "teachers": ("catalogGetTeacher",)}


def _create(collection: str, model: type[BaseModel]) -> dict[str, Any]:
    created = ok("the new row", "201")
    created["201"]["links"] = _links(_op_id("Patch", collection), *FOLLOW.get(collection, ()))
    return {"operationId": _op_id("Create", collection), "security": BEARER,
            "requestBody": body(model), "responses": {**created, **ADMIN_ERRORS, "409": PROBLEM}}


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        f"{PREFIX}/banners": {"get": revalidated({
            "summary": "Shown banners by orders (cached)",
            "responses": ok("[{id,title,image,link,info,orders}]")})},
        f"{PREFIX}/categories": {"get": revalidated({"responses": ok("[{id,name}]")})},
        f"{PREFIX}/courses": {"get": revalidated({
            "parameters": [*_query(schemas.CourseQuery), *PAGE],
            "responses": {**ok("{count,next,previous,results}"), "400": PROBLEM}})},
        f"{PREFIX}/courses/{{id}}": {"parameters": ID, "get": revalidated({
            "operationId": "catalogGetCourse", "responses": ok("course with chapters")})},
        f"{PREFIX}/teachers": {"get": {"parameters": PAGE,
                                       "responses": {**ok("page of teachers"), "400": PROBLEM}}},
        f"{PREFIX}/teachers/{{id}}": {"parameters": ID, "get": {
            "operationId": "catalogGetTeacher", "responses": ok("teacher")}},
        f"{PREFIX}/courses/{{id}}/chapters": {"parameters": ID,
                                              "post": _create("chapters", schemas.ChapterIn)},
        f"{PREFIX}/chapters/{{id}}/sections": {"parameters": ID,
                                               "post": _create("sections", schemas.SectionIn)},
    }
    models: list[type[BaseModel]] = []
    for collection, (create, patch) in WRITABLE.items():
        if collection not in ("chapters", "sections"):
            paths[f"{PREFIX}/{collection}"].setdefault("post", _create(collection, create))
        paths.setdefault(f"{PREFIX}/{collection}/{{id}}", {"parameters": ID}).update(
            _member(collection, patch))
        models += [create, patch]
    return openapi_document("catalog", paths, models)
