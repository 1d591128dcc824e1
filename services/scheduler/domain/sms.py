"""An SMS to send: the data of an `sms.send` event (the registry's `SmsSend`, both forms
read as a template), and the texts of its templates."""

from __future__ import annotations

from shared.event_data import LOGIN_CODE_TEMPLATE, SmsSend

TEMPLATES = {
    LOGIN_CODE_TEMPLATE: "Your coursestream login code is {code}. It is valid for 5 minutes.",
}


class SmsMessage(SmsSend):
    """The data of an `sms.send` event, rendered."""

    def text(self) -> str:
        template = TEMPLATES.get(self.template or "")
        if template is None:
            return f"[{self.template}] " + ", ".join(f"{k}={v}" for k, v in self.params.items())
        return template.format_map(self.params)
