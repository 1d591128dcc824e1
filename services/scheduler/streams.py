"""Every stream (and consumer group) the scheduler reads or writes."""

from __future__ import annotations

# Delays asked for by other services (`delay.requested`, `delay.cancelled`), read by group
# `scheduler` of the app.
REQUESTS_STREAM, REQUESTS_GROUP = "scheduler.requests", "scheduler"
# `sms.send` events, read by group `sms-sender` of the SMS sender worker.
SMS_STREAM, SMS_GROUP = "notify.sms", "sms-sender"
# Where fired schedule runs and moved delays may be written (settings
# `scheduler_target_streams`, by default these); anything else is refused with 422.
TARGET_STREAMS: tuple[str, ...] = ("catalog.commands", "seckill.commands", SMS_STREAM)
