"""An SMS to send: the data of an `sms.send` event, and the texts of its templates."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TEMPLATES = {
    "login_code": "Your coursestream login code is {code}. It is valid for 5 minutes.",
}


class SmsMessage(BaseModel):
    """The data of an `sms.send` event."""

    model_config = ConfigDict(extra="ignore")

    phone: str = Field(pattern=r"^\+?[0-9]{6,20}$")
    template: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)

    def text(self) -> str:
        template = TEMPLATES.get(self.template)
        if template is None:
            return f"[{self.template}] " + ", ".join(f"{k}={v}" for k, v in self.params.items())
        return template.format_map(self.params)
