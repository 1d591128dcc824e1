"""`coursestream users add --phone P --password W [--admin]` and
`coursestream users set --phone P [--active/--disabled] [--admin/--no-admin]`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from services.gateway.domain import NewUser, User
    from services.gateway.settings import Settings


@click.group()
def users() -> None:
    """Manage the gateway's users."""


@users.command()
@click.option("--phone", required=True, help="Mainland China mobile number, 11 digits.")
@click.option("--password", required=True, help="8 to 128 characters.")
@click.option("--admin", is_flag=True, help="Also give the admin role.")
def add(phone: str, password: str, admin: bool) -> None:
    """Add a user who logs in with a password."""
    from pydantic import ValidationError
    from sqlalchemy.exc import DBAPIError

    from services.gateway.domain import NewUser, PhoneTaken
    from services.gateway.settings import Settings

    try:
        new = NewUser(phone=phone, password=password, admin=admin)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise click.BadParameter(problems) from exc
    try:
        user = asyncio.run(_add(Settings(), new))
    except PhoneTaken as exc:
        raise click.ClickException(f"a user with phone {phone} already exists") from exc
    except DBAPIError as exc:  # most often: no users table yet
        raise click.ClickException(
            f"cannot write to the gateway database ({exc.orig!r}); "
            "is it migrated? run `coursestream migrate gateway`"
        ) from exc
    click.echo(f"user {user.id} added: phone {user.phone}, roles {', '.join(user.roles)}")


@users.command(name="set")
@click.option("--phone", required=True, help="The user's phone.")
@click.option("--active/--disabled", default=None, help="Enable or disable the user.")
@click.option("--admin/--no-admin", default=None, help="Give or take the admin role.")
def set_user(phone: str, active: bool | None, admin: bool | None) -> None:
    """Disable or enable a user, or change their roles; their tokens stop working at once
    (needs REDIS_URL, where the services check revocations)."""
    if active is None and admin is None:
        raise click.UsageError("give --active/--disabled, --admin/--no-admin, or both")
    from services.gateway.settings import Settings

    settings = Settings()
    settings.require_redis_url()  # before the database is changed
    user = asyncio.run(_change(settings, phone, active, admin))
    if user is None:
        raise click.ClickException(f"no user with phone {phone}")
    state = "active" if user.is_active else "disabled"
    click.echo(f"user {user.id} ({user.phone}): {state}, roles {', '.join(user.roles)}; "
               "tokens issued before now are revoked")


async def _change(
    settings: Settings, phone: str, active: bool | None, admin: bool | None
) -> User | None:
    from services.gateway.bootstrap import bootstrap

    async with bootstrap(settings) as runtime:
        return await runtime.accounts.change(phone, active=active, admin=admin)


async def _add(settings: Settings, new: NewUser) -> User:
    from services.gateway.bootstrap import bootstrap

    async with bootstrap(settings) as runtime:
        return await runtime.accounts.add(new)


commands = [users]
