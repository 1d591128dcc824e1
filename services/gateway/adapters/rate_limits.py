"""Limits in Redis, one key per subject: fixed-window counters (code requests, failed logins)
and GCRA rate limits (every public route class)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.redis import RedisClient, ScriptBatcher

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

    def __init__(self, redis: RedisClient, name: str, limit: int, window_s: int) -> None:
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


# GCRA (the generic cell rate algorithm): one stored time per subject, the "theoretical
# arrival time" (TAT) of its next request. A request is let in when it moves TAT no further
# than one window ahead of now: `quota` at once, then one per `window / quota`.
# ARGV: 1 emission interval ms (window / quota), 2 window ms.
# Returns {allowed (0/1), remaining, ms until the whole quota is back, ms to wait (refused)}.
# With KEYS[2] (a token's revocation hash, in the subject's slot) and ARGV[3..4] (its fields),
# an allowed request's answer also carries those fields (shared.auth.Revocations.revoked), so
# the gateway checks a token's revocation in the round trip of its rate limit.
GCRA = """
local revocation = {}
if KEYS[2] then
  local state = redis.call('HMGET', KEYS[2], ARGV[3], ARGV[4])
  revocation = {state[1] or '0', state[2] and 1 or 0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local next_tat = tat + interval
if next_tat - now > window then
  return {0, 0, math.ceil(tat - now), math.ceil(next_tat - now - window)}
end
-- At least 1 ms: an interval below the float precision of `now` leaves next_tat == now.
redis.call('SET', KEYS[1], string.format('%.3f', next_tat), 'PX',
           math.max(1, math.ceil(next_tat - now)))
return {1, math.floor((window - (next_tat - now)) / interval), math.ceil(next_tat - now), 0,
        revocation[1], revocation[2]}
"""


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    remaining: int
    reset_s: int  # until the whole quota is back
    retry_after_s: int  # when refused
    # The revocation fields asked for with the limit (`take(revocation=...)`), when allowed:
    # the token version and whether the session was logged out.
    revocation: tuple[bytes | None, bytes | None] | None = None


class RateLimit:
    """`quota` requests per `window_s` per subject, by GCRA: a burst of up to `quota`, then
    one every `window_s / quota` seconds. Named for the `RateLimit-Policy` header."""

    def __init__(self, redis: RedisClient, name: str, quota: int, window_s: int) -> None:
        self.name, self.quota, self.window_s = name, quota, window_s
        self._prefix = f"gateway:rate:{name}:"
        self._interval_ms = window_s * 1000 / quota
        # The requests of one loop turn share a round trip (a sale's attempts come together).
        self._gcra = ScriptBatcher(redis, redis.register_script(GCRA))

    async def take(self, subject: str,
                   revocation: tuple[str, list[str]] | None = None) -> RateDecision:
        """One request of `subject` (its key's hash tag); with `revocation` (a hash and its two
        fields, `shared.auth.Revocations.state_fields`, in the same slot) read those too."""
        keys, args = [f"{self._prefix}{{{subject}}}"], [repr(self._interval_ms),
                                                       self.window_s * 1000]
        if revocation is not None:
            keys.append(revocation[0])
            args.extend(revocation[1])
        allowed, remaining, reset_ms, retry_ms, *state = await self._gcra(keys, args)
        return RateDecision(
            bool(allowed), int(remaining), ceil_seconds(int(reset_ms)), ceil_seconds(int(retry_ms)),
            (state[0], b"1" if state[1] else None) if revocation is not None and state else None)

    @property
    def policy_header(self) -> str:
        """IETF draft-ietf-httpapi-ratelimit-headers: `"name";q=quota;w=window`."""
        return f'"{self.name}";q={self.quota};w={self.window_s}'

    def header(self, decision: RateDecision) -> str:
        return f'"{self.name}";r={decision.remaining};t={decision.reset_s}'


def ceil_seconds(ms: int) -> int:
    """Milliseconds as whole seconds for `Retry-After`, at least 1."""
    return max(1, -(-ms // 1000))
