"""Request bodies and query parameters of the seckill API (validated with pydantic)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

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
