"""Users in the gateway's database (SQLite or PostgreSQL, through SQLAlchemy Core)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.adapters.orm import refresh_tokens, users
from services.gateway.domain import PhoneTaken, RefreshGrant, User
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

    async def update(
        self, user_id: int, *, is_active: bool | None = None,
        roles: tuple[str, ...] | None = None,
    ) -> User | None:
        """Change what is given; the user as now stored, None when there is none."""
        values: dict[str, Any] = {}
        if is_active is not None:
            values["is_active"] = is_active
        if roles is not None:
            values["roles"] = list(roles)
        async with self._sessions() as session:
            await session.execute(update(users).where(users.c.id == user_id).values(**values))
            await session.commit()
        return await self.get(user_id)

    async def _one(self, condition: Any) -> User | None:
        async with self._sessions() as session:
            row = (await session.execute(select(users).where(condition))).mappings().first()
        return _user(dict(row)) if row is not None else None


def _user(row: dict[str, Any]) -> User:
    return User(
        id=row["id"], phone=row["phone"], roles=tuple(row["roles"]),
        is_active=row["is_active"], created_at=_utc(row["created_at"]),
        password_hash=row["password_hash"],
    )


class RefreshTokensRepository:
    """Refresh tokens by hash; see `orm.refresh_tokens`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = make_sessionmaker(engine)

    async def add(self, token_hash: str, session_id: str, user_id: int, ttl_s: int) -> None:
        now = datetime.now(UTC)
        async with self._sessions() as session:
            await session.execute(insert(refresh_tokens).values(
                token_hash=token_hash, session_id=session_id, user_id=user_id, issued_at=now,
                expires_at=now + timedelta(seconds=ttl_s)))
            await session.commit()

    async def use(self, token_hash: str) -> RefreshGrant | None:
        """Use a token up, once: its grant (`reused` when it was used before, or by a
        concurrent call), None for a token never issued, expired or revoked."""
        now = datetime.now(UTC)
        async with self._sessions() as session:
            row = (await session.execute(select(refresh_tokens).where(
                refresh_tokens.c.token_hash == token_hash))).mappings().first()
            if row is None or row["revoked_at"] is not None or _utc(row["expires_at"]) <= now:
                return None
            used = await session.execute(update(refresh_tokens).where(
                refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.used_at.is_(None),
            ).values(used_at=now))
            await session.commit()
        return RefreshGrant(session_id=row["session_id"], user_id=row["user_id"],
                            reused=used.rowcount != 1)

    async def revoke_session(self, session_id: str) -> None:
        await self._revoke(refresh_tokens.c.session_id == session_id)

    async def revoke_user(self, user_id: int) -> None:
        await self._revoke(refresh_tokens.c.user_id == user_id)

    async def _revoke(self, condition: Any) -> None:
        async with self._sessions() as session:
            await session.execute(update(refresh_tokens).where(
                condition, refresh_tokens.c.revoked_at.is_(None),
            ).values(revoked_at=datetime.now(UTC)))
            await session.commit()


def _utc(value: datetime) -> datetime:
    """SQLite drops the offset; we store UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
