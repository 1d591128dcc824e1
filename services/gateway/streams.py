"""Every stream the gateway writes (the registry, `shared.event_types`); it reads none."""

from __future__ import annotations

from shared import event_types as registry

# `sms.send` entries for the scheduler's `sms-sender` group (the login codes).
NOTIFY_SMS = registry.NOTIFY_SMS.key
SMS_SEND = registry.SMS_SEND.name
