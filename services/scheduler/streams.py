"""Every stream (and consumer group) the scheduler reads or writes, named from the registry
(`shared.event_types`)."""

from __future__ import annotations

from shared import event_types as registry

# Delays asked for by other services (`delay.requested`, `delay.cancelled`), read by group
# `scheduler` of the app.
REQUESTS_STREAM = registry.SCHEDULER_REQUESTS.key
(REQUESTS_GROUP,) = registry.SCHEDULER_REQUESTS.groups
DELAY_REQUESTED = registry.DELAY_REQUESTED.name
DELAY_CANCELLED = registry.DELAY_CANCELLED.name
# `sms.send` events, read by group `sms-sender` of the SMS sender worker.
SMS_STREAM = registry.NOTIFY_SMS.key
(SMS_GROUP,) = registry.NOTIFY_SMS.groups
SMS_SEND = registry.SMS_SEND.name
# Where fired schedule runs and moved delays may be written (settings
# `scheduler_target_streams`, by default these); anything else is refused with 422.
TARGET_STREAMS: tuple[str, ...] = (
    registry.CATALOG_COMMANDS.key, registry.SECKILL_COMMANDS.key, SMS_STREAM)
