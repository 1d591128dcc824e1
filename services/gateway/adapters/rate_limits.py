"""Fixed-window counters in Redis, one key per subject (an address): limits on code requests
and on failed logins."""

from __future__ import annotations

from redis.asyncio import Redis

# INCR and the window's expiry in one step, so a counter never lives on without one.
HIT = """
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""

RELEASE = """
if (tonumber(redis.call('GET', KEYS[1]) or '0')) > 0 then redis.call('DECR', KEYS[1]) end
"""


class WindowLimit:
    """At most `limit` hits per subject in a window of `window_s` seconds."""

    def __init__(self, redis: Redis, name: str, limit: int, window_s: int) -> None:
        self._redis = redis
        self._prefix = f"gateway:{name}:"
        self.limit, self.window_s = limit, window_s
        self._hit = redis.register_script(HIT)
        self._release = redis.register_script(RELEASE)

    async def hit(self, subject: str) -> int | None:
        """Count one hit, atomically; None while within the limit, else the seconds until the
        window ends. Counted before the work it guards, so concurrent callers cannot all pass."""
        count, ttl_ms = await self._hit(keys=[self._prefix + subject],
                                        args=[self.window_s * 1000])
        return ceil_seconds(int(ttl_ms)) if int(count) > self.limit else None

    async def release(self, subject: str) -> None:
        """Give back one hit taken by `hit` (a login that turned out right)."""
        await self._release(keys=[self._prefix + subject])


def ceil_seconds(ms: int) -> int:
    """Milliseconds as whole seconds for `Retry-After`, at least 1."""
    return max(1, -(-ms // 1000))
