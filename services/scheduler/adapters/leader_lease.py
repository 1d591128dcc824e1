"""The leader lease in Redis: SET NX PX with a fencing token from INCR, renewed by its owner.

The lease value is `<token>:<owner>`; the token grows with every new leader, so a writer
that checks the value (see `run_publisher.py`) refuses a leader whose lease has passed on.
"""

from __future__ import annotations

from shared.redis import RedisClient, text

LEASE_KEY = "{scheduler:leader}"
FENCE_KEY = "{scheduler:leader}:fence"

ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then
  if string.sub(current, -#ARGV[1] - 1) == ':' .. ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
    return current
  end
  return false
end
local value = redis.call('INCR', KEYS[2]) .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', tonumber(ARGV[2]))
return value
"""
RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
"""
RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""


class RedisLeaderLease:
    def __init__(self, redis: RedisClient, owner: str, lease_ms: int) -> None:
        self.owner = owner
        self.lease_ms = lease_ms
        self._acquire = redis.register_script(ACQUIRE)
        self._renew = redis.register_script(RENEW)
        self._release = redis.register_script(RELEASE)

    async def acquire(self) -> str | None:
        """The lease value (with its fencing token) if nobody else holds the lease; an owner
        that lost track of its own lease (a failed renew) gets it back unchanged."""
        value = await self._acquire(keys=[LEASE_KEY, FENCE_KEY], args=[self.owner, self.lease_ms])
        if not value:
            return None
        return text(value)

    async def renew(self, value: str) -> bool:
        return bool(await self._renew(keys=[LEASE_KEY], args=[value, self.lease_ms]))

    async def release(self, value: str) -> None:
        await self._release(keys=[LEASE_KEY], args=[value])
