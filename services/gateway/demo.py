"""Demo logins (printed by `coursestream up`): one admin, one user."""

from __future__ import annotations

from services.gateway.bootstrap import bootstrap
from services.gateway.domain import NewUser
from services.gateway.settings import Settings

DEMO_USERS = (
    NewUser(phone="13800000000", password="admin12345", admin=True),
    NewUser(phone="13900000000", password="user12345"),
)


async def load_demo_data(settings: Settings) -> bool:
    """Add the demo users; False when they are already there."""
    async with bootstrap(settings) as runtime:
        if await runtime.users.by_phone(DEMO_USERS[0].phone) is not None:
            return False
        for new in DEMO_USERS:
            if await runtime.users.by_phone(new.phone) is None:
                await runtime.accounts.add(new)
        return True
