"""Request bodies and query parameters of the seckill API (validated with pydantic), and the
shapes of the answers http.py renders (TypedDicts: the document's response schemas)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypedDict

from services.seckill.domain import ItemState
from shared.openapi import money
from shared.pagination import PageParams

PRICE_TOP, PRICE_SCHEMA = money(8)  # numeric(10, 2)


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    course_id: int = Field(ge=1, le=2**31 - 1)
    title: str = Field(min_length=1, max_length=200)
    price: Decimal = Field(ge=0, le=PRICE_TOP, max_digits=10, decimal_places=2,
                           json_schema_extra=PRICE_SCHEMA)
    stock: int = Field(ge=1, le=1_000_000)
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _window(self) -> ItemIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class OrdersQuery(PageParams):
    user: int | None = Field(default=None, ge=1, le=2**63 - 1)  # a bigint


class ItemOut(TypedDict):
    """An item: `remaining` from Redis (null when its sale is not loaded there)."""

    id: int
    course_id: int
    title: str
    price: str
    stock: int
    remaining: int | None
    starts_at: str
    ends_at: str
    state: Annotated[str, Field(json_schema_extra={"enum": [s.value for s in ItemState]})]


class AttemptLinks(TypedDict):
    self: str
    events: str


class AttemptOut(TypedDict):
    """An admitted attempt: its ticket, pending until the order writer decides."""

    ticket: str
    status: Annotated[str, Field(json_schema_extra={"const": "pending"})]
    links: AttemptLinks
