"""The bodies of the `/api/v1/auth/...` requests and the shapes of their answers (also the
gateway's OpenAPI schemas; `handlers.Tokens` is the login's)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema
from typing_extensions import TypedDict

from services.gateway.domain import Code, Password, Phone, PublicUser


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: Annotated[str, StringConstraints(min_length=20, max_length=200)]


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Phone


class TokenRequest(BaseModel):
    """`{"phone","password"}` or `{"phone","code"}`: exactly one way of proving who you are."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "oneOf": [{"required": ["password"]}, {"required": ["code"]}]})

    phone: Phone
    password: Password | SkipJsonSchema[None] = None
    code: Code | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _one_proof(self) -> TokenRequest:
        if (self.password is None) == (self.code is None):
            raise ValueError("give either a password or a code")
        return self


class CodeSent(TypedDict):
    """A code is on its way: it expires in `expires_in` s, another may be asked for after
    `resend_after` s."""

    expires_in: int
    resend_after: int


class Me(PublicUser):
    created_at: str
