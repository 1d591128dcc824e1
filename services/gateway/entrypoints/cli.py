"""`coursestream users add --phone P --password W [--admin]`."""

from __future__ import annotations

import asyncio

import click
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from services.gateway import handlers
from services.gateway.adapters.repository import UsersRepository
from services.gateway.domain import NewUser, PhoneTaken, User
from services.gateway.settings import Settings
from shared.db import make_engine


@click.group()
def users() -> None:
    """Manage the gateway's users."""


@users.command()
@click.option("--phone", required=True, help="Mainland China mobile number, 11 digits.")
@click.option("--password", required=True, help="8 to 128 characters.")
@click.option("--admin", is_flag=True, help="Also give the admin role.")
def add(phone: str, password: str, admin: bool) -> None:
    """Add a user who logs in with a password."""
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


async def _add(settings: Settings, new: NewUser) -> User:
    engine = make_engine(settings.database_url)
    try:
        return await handlers.add_user(UsersRepository(engine), new)
    finally:
        await engine.dispose()


commands = [users]
