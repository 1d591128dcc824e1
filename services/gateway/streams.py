"""Every stream the gateway writes (ARCHITECTURE.md, "Streams"); it reads none."""

from __future__ import annotations

# `sms.send` entries for the scheduler's `sms-sender` group (the login codes).
NOTIFY_SMS = "notify.sms"
