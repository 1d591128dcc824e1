"""SMS to send, handed to the scheduler's `sms-sender` group through the `notify.sms` stream."""

from __future__ import annotations

from typing import Any

from services.gateway.streams import NOTIFY_SMS, SMS_SEND
from shared.event_data import SmsSend
from shared.events import Envelope, publish
from shared.redis import RedisClient


class SmsOutbox:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def send(
        self, phone: str, template: str, params: dict[str, Any], correlation_id: str | None
    ) -> None:
        envelope = Envelope(
            type=SMS_SEND, producer="gateway", correlation_id=correlation_id,
            data=SmsSend(phone=phone, template=template, params=params).model_dump(
                exclude_none=True),
        )
        await publish(self._redis, NOTIFY_SMS, envelope)
