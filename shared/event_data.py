"""The `data` of each event type: the pydantic models that producers build, consumers read,
the scheduler checks delayed and scheduled events against, and the AsyncAPI document shows.
`shared.event_types` names which type carries which model on which stream.

A service refines a model where it has rules of its own (seckill's `OrderRequested` checks
that the ticket names its item; the scheduler's `SmsMessage` renders the text): the subclass
adds behaviour, never fields, so the wire shape stays the one here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

TYPE_PATTERN = r"^[a-z][a-z0-9_.-]{0,99}$"
MAX_DELAY_S = 366 * 24 * 3600
MONEY_PATTERN = r"^[0-9]+\.[0-9]{2}$"


class EventData(BaseModel):
    """Unknown fields are refused: a misspelt field is named, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class NoData(EventData):
    """A command that needs nothing but its type (`{}`)."""


class EntityChanged(EventData):
    """`banner.changed`, `course.changed`: a catalog row written (the course's own, or one
    under or linked to a course)."""

    entity: Literal["banner", "category", "teacher", "course", "chapter", "section"]
    id: int
    action: Literal["created", "updated", "deleted"]
    course_id: int | SkipJsonSchema[None] = None


class OrderRequested(EventData):
    """`order.requested`, written by the admission script for an admitted attempt."""

    ticket: str
    item_id: int
    user_id: int
    price: Decimal


class OrderRef(EventData):
    """`order.expire`: expire this order if it is unpaid past `pay_by`."""

    order_id: int


class OrderState(EventData):
    """`order.created`, `order.paid`, `order.expired`: the order as it is now."""

    id: int
    item_id: int
    user_id: int
    ticket: str
    price: str = Field(pattern=MONEY_PATTERN)
    status: Literal["unpaid", "paid", "expired"]
    created_at: datetime
    pay_by: datetime
    paid_at: datetime | None


class OrderRejected(EventData):
    """`order.rejected`: an admitted request that got no order; its unit went back."""

    ticket: str
    item_id: int
    user_id: int
    reason: str


class DelayRequested(EventData):
    """`delay.requested` (and the body of `POST /delays`): write `type` with `data` to
    `stream` at `at` or after `delay_s`; the same `key` names the same delay."""

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["at"]}, {"required": ["delay_s"]}]})

    stream: str = Field(min_length=1, max_length=200)
    type: str = Field(pattern=TYPE_PATTERN)
    data: dict[str, Any] = Field(default_factory=dict)
    at: AwareDatetime | SkipJsonSchema[None] = None
    delay_s: Annotated[float, Field(ge=0, le=MAX_DELAY_S)] | SkipJsonSchema[None] = None
    key: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_time(self) -> DelayRequested:
        if (self.at is None) == (self.delay_s is None):
            raise ValueError("give exactly one of `at` and `delay_s`")
        return self


class DelayCancel(EventData):
    """`delay.cancelled`: the delay's id, or the key it was asked with."""

    id: str | None = Field(default=None, min_length=1, max_length=40)
    key: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_ref(self) -> DelayCancel:
        if (self.id is None) == (self.key is None):
            raise ValueError("give exactly one of `id` and `key`")
        return self


# The template of the login codes; the seed's form `{"phone", "code"}` is this template.
LOGIN_CODE_TEMPLATE = "login_code"


class SmsSend(EventData):
    """`sms.send`: a template and its parameters, or the seed's own form `{"phone", "code"}`:
    the login-code text, read as `{"phone", "template": "login_code", "params": {"code"}}`."""

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["template"]}, {"required": ["code"]}]})

    phone: str = Field(pattern=r"^\+?[0-9]{6,20}$")
    template: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)
    code: str | SkipJsonSchema[None] = Field(default=None, pattern=r"^[0-9]{4,8}$")

    @model_validator(mode="after")
    def _one_form(self) -> SmsSend:
        if (self.template is None) == (self.code is None):
            raise ValueError("give exactly one of `template` and `code`")
        if self.code is not None:
            if self.params:
                raise ValueError("`params` go with a `template`, not with a `code`")
            # One form from here on, for the sender and its providers alike.
            self.template, self.params, self.code = (
                LOGIN_CODE_TEMPLATE, {"code": self.code}, None)
        return self
