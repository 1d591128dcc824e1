"""The catalog's OpenAPI document (`GET /api/v1/catalog/openapi.json`), for the gateway to
merge. Request bodies and query parameters come from the pydantic models that validate them;
answers are named, with their shapes described in docs/catalog.md."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.catalog.entrypoints import schemas, serializers
from shared.openapi import (
    BEARER,
    PAGE,
    PROBLEM,
    body,
    errors,
    inlined,
    ok,
    page_of,
    path_param,
    ref,
    revalidated,
)
from shared.openapi import document as openapi_document

PREFIX = "/api/v1/catalog"
ADMIN_ERRORS = errors(403)
ID = path_param("id")


def _query(model: type[BaseModel]) -> list[dict[str, Any]]:
    # A parameter's schema has no home for `$defs`: enums (CourseKind) are inlined, or the
    # document would point at "#/$defs/..." that it does not hold.
    return [{"name": name, "in": "query", "required": False, "schema": prop}
            for name, prop in inlined(model)["properties"].items()]


# collection -> its create body, its change body, what a create or a change answers
WRITABLE: dict[str, tuple[type[BaseModel], type[BaseModel], type]] = {
    "banners": (schemas.BannerIn, schemas.BannerPatch, serializers.BannerWritten),
    "categories": (schemas.CategoryIn, schemas.CategoryPatch, serializers.CategoryWritten),
    "courses": (schemas.CourseIn, schemas.CoursePatch, serializers.CourseWritten),
    "teachers": (schemas.TeacherIn, schemas.TeacherPatch, serializers.TeacherWritten),
    "chapters": (schemas.ChapterIn, schemas.ChapterPatch, serializers.ChapterWritten),
    "sections": (schemas.SectionIn, schemas.SectionPatch, serializers.SectionWritten),
}
ANSWERS = [serializers.BannerOut, serializers.CategoryOut, serializers.CourseOut,
           serializers.CourseDetailOut, serializers.TeacherOut,
           *(written for _, _, written in WRITABLE.values())]


def _list_of(model: type) -> dict[str, Any]:
    return {"type": "array", "items": ref(model)}


def _op_id(verb: str, collection: str) -> str:
    return f"catalog{verb}{collection[:-1].capitalize()}"  # catalogPatchCourse


def _links(*operations: str) -> dict[str, Any]:
    return {operation: {"operationId": operation, "parameters": {"id": "$response.body#/id"}}
            for operation in operations}


def _member(collection: str, patch: type[BaseModel]) -> dict[str, Any]:
    changed = ok("the row", model=WRITABLE[collection][2])
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
    created = ok("the new row", "201", model=WRITABLE[collection][2])
    created["201"]["links"] = _links(_op_id("Patch", collection), *FOLLOW.get(collection, ()))
    return {"operationId": _op_id("Create", collection), "security": BEARER,
            "requestBody": body(model), "responses": {**created, **ADMIN_ERRORS, "409": PROBLEM}}


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        f"{PREFIX}/banners": {"get": revalidated({
            "summary": "Shown banners by orders (cached)",
            "responses": ok("[{id,title,image,link,info,orders}]",
                            schema=_list_of(serializers.BannerOut))})},
        f"{PREFIX}/categories": {"get": revalidated({"responses": ok(
            "[{id,name}]", schema=_list_of(serializers.CategoryOut))})},
        f"{PREFIX}/courses": {"get": revalidated({
            "parameters": [*_query(schemas.CourseQuery), *PAGE],
            "responses": {**ok("{count,next,previous,results}",
                               schema=page_of(serializers.CourseOut)), "400": PROBLEM}})},
        f"{PREFIX}/courses/{{id}}": {"parameters": ID, "get": revalidated({
            "operationId": "catalogGetCourse",
            "responses": ok("course with chapters", model=serializers.CourseDetailOut)})},
        f"{PREFIX}/teachers": {"get": {"parameters": PAGE, "responses": {
            **ok("page of teachers", schema=page_of(serializers.TeacherOut)), "400": PROBLEM}}},
        f"{PREFIX}/teachers/{{id}}": {"parameters": ID, "get": {
            "operationId": "catalogGetTeacher",
            "responses": ok("teacher", model=serializers.TeacherOut)}},
        f"{PREFIX}/courses/{{id}}/chapters": {"parameters": ID,
                                              "post": _create("chapters", schemas.ChapterIn)},
        f"{PREFIX}/chapters/{{id}}/sections": {"parameters": ID,
                                               "post": _create("sections", schemas.SectionIn)},
    }
    models: list[type[BaseModel]] = []
    for collection, (create, patch, _) in WRITABLE.items():
        if collection not in ("chapters", "sections"):
            paths[f"{PREFIX}/{collection}"].setdefault("post", _create(collection, create))
        paths.setdefault(f"{PREFIX}/{collection}/{{id}}", {"parameters": ID}).update(
            _member(collection, patch))
        models += [create, patch]
    return openapi_document("catalog", paths, models, ANSWERS)
