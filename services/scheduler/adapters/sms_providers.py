"""Where an SMS goes: `console` (log line + `<VAR_DIR>/sms-outbox.jsonl`) or `http` (POST
JSON to a gateway's URL, with a timeout and retries with exponential backoff)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from services.scheduler.domain.sms import SmsMessage
from services.scheduler.ports import SmsProvider
from services.scheduler.settings import Settings
from shared.logging import get_logger

log = get_logger(__name__)


class ConsoleProvider:
    """For a person running the platform: the code is in the log and in the outbox file."""

    name = "console"

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    async def send(self, message_id: str, sms: SmsMessage) -> None:
        line = orjson.dumps({
            "id": message_id, "phone": sms.phone, "template": sms.template,
            "params": sms.params, "text": sms.text(), "sent_at": datetime.now(UTC),
        })
        await asyncio.to_thread(self._append, line + b"\n")
        log.info("sms sent", provider=self.name, phone=sms.phone, text=sms.text())

    def _append(self, line: bytes) -> None:
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        with self.outbox.open("ab") as fh:
            fh.write(line)


class ProviderUnavailable(Exception):
    """A 5xx or 429 from the provider: worth another try."""


class ProviderRejected(Exception):
    """A 4xx: this message will not go through by retrying at once."""


class HttpProvider:
    name = "http"

    def __init__(
        self, session: aiohttp.ClientSession, url: str, timeout_s: float, attempts: int,
        backoff_s: float,
    ) -> None:
        if not url:
            raise ValueError("SMS_PROVIDER=http needs SMS_HTTP_URL")
        self.session = session
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.attempts = attempts
        self.backoff_s = backoff_s

    async def send(self, message_id: str, sms: SmsMessage) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=5),
            retry=retry_if_exception_type(
                (ProviderUnavailable, aiohttp.ClientError, TimeoutError)
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._post(message_id, sms)

    async def _post(self, message_id: str, sms: SmsMessage) -> None:
        body = {"id": message_id, "phone": sms.phone, "template": sms.template,
                "params": sms.params, "text": sms.text()}
        # The message id lets the provider drop a resend after a crash of this worker.
        async with self.session.post(
            self.url, json=body, timeout=self.timeout, headers={"Idempotency-Key": message_id}
        ) as response:
            if response.status >= 500 or response.status == 429:
                raise ProviderUnavailable(f"{response.status} from {self.url}")
            if response.status >= 400:
                raise ProviderRejected(f"{response.status} from {self.url}: "
                                       f"{(await response.text())[:200]}")


@asynccontextmanager
async def open_provider(settings: Settings) -> AsyncIterator[SmsProvider]:
    """The provider the settings name (refused where unsafe), open until the block ends."""
    settings.refuse_unsafe_production()
    async with aiohttp.ClientSession() as session:
        if settings.sms_provider == "http":
            yield HttpProvider(session, settings.sms_http_url, settings.sms_http_timeout_s,
                               settings.sms_http_attempts, settings.sms_http_backoff_s)
        else:
            yield ConsoleProvider(settings.sms_outbox)
