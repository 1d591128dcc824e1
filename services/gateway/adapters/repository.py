"""Users in the gateway's database (SQLite or PostgreSQL, through SQLAlchemy Core)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.adapters.orm import users
from services.gateway.domain import PhoneTaken, User
from shared.db import make_sessionmaker


class UsersRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = make_sessionmaker(engine)

    async def get(self, user_id: int) -> User | None:
        return await self._one(users.c.id == user_id)

    async def by_phone(self, phone: str) -> User | None:
        return await self._one(users.c.phone == phone)

    async def add(
        self, phone: str, roles: tuple[str, ...], password_hash: str | None = None
    ) -> User:
        """Insert a user; PhoneTaken when the phone already has one."""
        values = {
            "phone": phone, "password_hash": password_hash, "roles": list(roles),
            "is_active": True, "created_at": datetime.now(UTC),
        }
        async with self._sessions() as session:
            try:
                result = await session.execute(insert(users).values(**values).returning(users.c.id))
                await session.commit()
            except IntegrityError as exc:
                raise PhoneTaken(phone) from exc
            return _user({"id": result.scalar_one(), **values})

    async def get_or_add(self, phone: str, roles: tuple[str, ...]) -> User:
        """The phone's user, made on first sight; two concurrent first logins make one user."""
        user = await self.by_phone(phone)
        if user is not None:
            return user
        try:
            return await self.add(phone, roles)
        except PhoneTaken:
            user = await self.by_phone(phone)
            assert user is not None
            return user

    async def _one(self, condition: Any) -> User | None:
        async with self._sessions() as session:
            row = (await session.execute(select(users).where(condition))).mappings().first()
        return _user(dict(row)) if row is not None else None


def _user(row: dict[str, Any]) -> User:
    created_at = row["created_at"]
    if created_at.tzinfo is None:  # SQLite drops the offset; we store UTC
        created_at = created_at.replace(tzinfo=UTC)
    return User(
        id=row["id"], phone=row["phone"], roles=tuple(row["roles"]),
        is_active=row["is_active"], created_at=created_at, password_hash=row["password_hash"],
    )
