"""The catalog's routes under /api/v1/catalog: parse, call one handler, render."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from services.catalog import handlers
from services.catalog.bootstrap import Runtime
from services.catalog.entrypoints import schemas, serializers
from services.catalog.entrypoints.openapi import document
from services.catalog.handlers import Entity
from shared.auth import require_admin
from shared.errors import NotFound
from shared.http import CORRELATION_ID_KEY, conditional, json_response, parse_body, parse_query
from shared.pagination import PageParams, page_body

PREFIX = "/api/v1/catalog"
RUNTIME_KEY = web.AppKey("runtime", Runtime)

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPENAPI = document()
# Cache-Control of the public reads (docs/catalog.md, "HTTP caching"). The banners are
# revalidated on every use, so an edit shows at once (a 304 while nothing changed); the rest
# may be reused for a few seconds, then revalidated.
BANNERS_CACHE = "public, no-cache"
READ_CACHE = "public, max-age=10, must-revalidate"


def _runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME_KEY]


def _path_id(request: web.Request) -> int:
    """The `{id}` of the path (digits by the route); beyond any stored id is simply absent."""
    value = int(request.match_info["id"])
    if value > schemas.MAX_INT:
        raise NotFound(f"No row with id {value}.")
    return value


def _page(
    request: web.Request, count: int, results: list[Any], page: PageParams
) -> web.Response:
    base = _runtime(request).base_url
    return json_response(page_body(base, request.rel_url, page, count, results))


async def openapi(request: web.Request) -> web.Response:
    return json_response(OPENAPI)


async def banners(request: web.Request) -> web.Response:
    # Straight from the cache, a read model holding the rendered body.
    body = await _runtime(request).banners.get_json()
    return conditional(request, web.Response(body=body, content_type="application/json"),
                       BANNERS_CACHE)


async def categories(request: web.Request) -> web.Response:
    rows = await _runtime(request).handlers.categories()
    return conditional(request, json_response([serializers.category(row) for row in rows]),
                       READ_CACHE)


def courses_key(query: schemas.CourseQuery, page: PageParams) -> str:
    """The `pages` cache key of a course list: the normalised filters and page, everything
    the count and the results depend on (the envelope's links are made per request)."""
    return (f"courses:kind={query.kind or ''}&category={query.category or ''}"
            f"&ordering={query.ordering}&page={page.page}&page_size={page.page_size}")


def course_key(course_id: int) -> str:
    return f"course:{course_id}"


async def courses(request: web.Request) -> web.Response:
    query = parse_query(request, schemas.CourseQuery)
    page = parse_query(request, PageParams)
    runtime = _runtime(request)

    async def load() -> dict[str, Any]:
        found = await runtime.handlers.courses(page, **query.model_dump())
        return {"count": found.count, "results": serializers.courses(found, runtime.base_url)}

    # A search is too varied to cache (and cheap to get wrong): straight to the database.
    listed = await (load() if query.search is not None
                    else runtime.pages.get(courses_key(query, page), load))
    # The envelope (next/previous keep the request's own query) is built per request, so a
    # cached page answers the very body an uncached one would.
    return conditional(request, _page(request, listed["count"], listed["results"], page),
                       READ_CACHE)


async def course(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    course_id = _path_id(request)

    async def load() -> serializers.CourseDetailOut:
        detail = await runtime.handlers.course(course_id)  # an unknown id: 404, never cached
        return serializers.course_detail(detail, runtime.base_url)

    body = await runtime.pages.get_json(course_key(course_id), load)
    return conditional(request, web.Response(body=body, content_type="application/json"),
                       READ_CACHE)


async def teachers(request: web.Request) -> web.Response:
    page = parse_query(request, PageParams)
    runtime = _runtime(request)
    count, rows = await runtime.handlers.teachers(page)
    results = [serializers.teacher(row, runtime.base_url) for row in rows]
    return _page(request, count, results, page)


async def teacher(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    row = await runtime.handlers.teacher(_path_id(request))
    return json_response(serializers.teacher(row, runtime.base_url))


def _creator(entity: Entity, model: type[BaseModel], nested: bool = False) -> Route:
    """POST on a collection (`nested`: under its parent's `{id}`) -> 201 with the row."""

    async def create(request: web.Request) -> web.Response:
        await require_admin(request)
        parent_id = _path_id(request) if nested else None
        body = await parse_body(request, model)
        runtime = _runtime(request)
        row = await runtime.handlers.create(entity, body.model_dump(),
                                            request[CORRELATION_ID_KEY], parent_id=parent_id)
        return json_response(serializers.written(row, runtime.base_url), status=201)

    return create


def _updater(entity: Entity, model: type[schemas.Patch]) -> Route:
    async def update(request: web.Request) -> web.Response:
        await require_admin(request)
        row_id = _path_id(request)
        body = await parse_body(request, model)
        runtime = _runtime(request)
        row = await runtime.handlers.update(entity, row_id, body.changes(),
                                            request[CORRELATION_ID_KEY])
        return json_response(serializers.written(row, runtime.base_url))

    return update


def _deleter(entity: Entity) -> Route:
    async def delete(request: web.Request) -> web.Response:
        await require_admin(request)
        await _runtime(request).handlers.delete(entity, _path_id(request),
                                                request[CORRELATION_ID_KEY])
        return web.Response(status=204)

    return delete


# collection path, its entity, create body, patch body, public GET of the collection
ADMIN = (
    ("banners", handlers.BANNER, schemas.BannerIn, schemas.BannerPatch),
    ("categories", handlers.CATEGORY, schemas.CategoryIn, schemas.CategoryPatch),
    ("courses", handlers.COURSE, schemas.CourseIn, schemas.CoursePatch),
    ("teachers", handlers.TEACHER, schemas.TeacherIn, schemas.TeacherPatch),
)


def setup_routes(app: web.Application) -> None:
    r = app.router
    member = "/{id:\\d+}"
    r.add_get(f"{PREFIX}/openapi.json", openapi)
    r.add_get(f"{PREFIX}/banners", banners)
    r.add_get(f"{PREFIX}/categories", categories)
    r.add_get(f"{PREFIX}/courses", courses)
    r.add_get(f"{PREFIX}/courses{member}", course)
    r.add_get(f"{PREFIX}/teachers", teachers)
    r.add_get(f"{PREFIX}/teachers{member}", teacher)
    for collection, entity, create_body, patch_body in ADMIN:
        r.add_post(f"{PREFIX}/{collection}", _creator(entity, create_body))
        r.add_patch(f"{PREFIX}/{collection}{member}", _updater(entity, patch_body))
        r.add_delete(f"{PREFIX}/{collection}{member}", _deleter(entity))
    r.add_post(f"{PREFIX}/courses{member}/chapters",
               _creator(handlers.CHAPTER, schemas.ChapterIn, nested=True))
    r.add_post(f"{PREFIX}/chapters{member}/sections",
               _creator(handlers.SECTION, schemas.SectionIn, nested=True))
    for collection, entity, patch_body in (
        ("chapters", handlers.CHAPTER, schemas.ChapterPatch),
        ("sections", handlers.SECTION, schemas.SectionPatch),
    ):
        r.add_patch(f"{PREFIX}/{collection}{member}", _updater(entity, patch_body))
        r.add_delete(f"{PREFIX}/{collection}{member}", _deleter(entity))
