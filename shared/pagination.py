"""`?page=&page_size=` lists rendered as `{"count","next","previous","results"}`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from yarl import URL

MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000  # keeps the offset inside a 32-bit integer whatever the page size


class PageParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(20, ge=1, le=MAX_PAGE_SIZE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_body(
    public_base_url: str, rel_url: URL, params: PageParams, count: int, results: list[Any]
) -> dict[str, Any]:
    """The page envelope. `next`/`previous` are public URLs (behind the gateway) that keep
    every other query parameter of the request."""
    url = URL(public_base_url.rstrip("/") + str(rel_url))

    def link(page: int) -> str:
        return str(url.update_query(page=page, page_size=params.page_size))

    last_page = max(1, -(-count // params.page_size))
    return {
        "count": count,
        "next": link(params.page + 1) if params.page < last_page else None,
        "previous": link(params.page - 1) if params.page > 1 else None,
        "results": results,
    }
