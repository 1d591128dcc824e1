"""Login codes in Redis: stored as HMACs, a cooldown per phone, tries counted atomically.

One hash per phone, `gateway:sms-code:{phone}`: `digest` (HMAC-SHA256 of phone and code,
"" once used or void), `tries`, `issued_ms`. It lives as long as the code (5 min); the
cooldown is read from `issued_ms`, so using or voiding a code does not lift it. Every script
touches one key, so this also works on Redis Cluster.
"""

from __future__ import annotations

import hashlib
import hmac

from redis.asyncio import Redis

from services.gateway.adapters.rate_limits import WindowLimit, ceil_seconds
from services.gateway.domain import CodeCoolingDown, TooManyCodeRequests, new_code

# Refuses (returns ms to wait) while the last code is younger than the cooldown.
ISSUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local issued = tonumber(redis.call('HGET', KEYS[1], 'issued_ms') or '0')
local wait = issued + tonumber(ARGV[3]) - now
if issued > 0 and wait > 0 then return wait end
redis.call('HSET', KEYS[1], 'digest', ARGV[1], 'tries', 0, 'issued_ms', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
"""

# Counts the try before the caller compares, so concurrent tries can never exceed the limit;
# past it the code is void. Returns the stored digest, or false.
TAKE_TRY = """
local digest = redis.call('HGET', KEYS[1], 'digest')
if not digest or digest == '' then return false end
if redis.call('HINCRBY', KEYS[1], 'tries', 1) > tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'digest', '')
  return false
end
return digest
"""

# Single use: of two concurrent right answers, one wins.
CONSUME = """
if redis.call('HGET', KEYS[1], 'digest') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'digest', '')
  return 1
end
return 0
"""


class SmsCodes:
    def __init__(
        self, redis: Redis, secret: str, *, ttl_s: int, cooldown_s: int, max_tries: int,
        ip_limit: int, ip_window_s: int,
    ) -> None:
        self._redis = redis
        self._secret = secret.encode()
        self.ttl_s, self.cooldown_s, self._max_tries = ttl_s, cooldown_s, max_tries
        self._per_address = WindowLimit(redis, "sms-ip", ip_limit, ip_window_s)
        self._issue = redis.register_script(ISSUE)
        self._take_try = redis.register_script(TAKE_TRY)
        self._consume = redis.register_script(CONSUME)

    async def issue(self, phone: str, client_ip: str) -> str:
        """A new code for the phone; raises when the address or the phone must wait."""
        retry_after = await self._per_address.hit(client_ip)
        if retry_after is not None:
            raise TooManyCodeRequests(retry_after)
        code = new_code()
        wait_ms = await self._issue(
            keys=[_key(phone)],
            args=[self._digest(phone, code), self.ttl_s * 1000, self.cooldown_s * 1000],
        )
        if int(wait_ms) > 0:
            raise CodeCoolingDown(ceil_seconds(int(wait_ms)))
        return code

    async def withdraw(self, phone: str) -> None:
        """Forget a code that could not be sent, so the user may ask again at once."""
        await self._redis.delete(_key(phone))

    async def check(self, phone: str, code: str) -> bool:
        """True once for the right code within its life and its tries."""
        stored = await self._take_try(keys=[_key(phone)], args=[self._max_tries])
        if not stored:
            return False
        stored = stored.decode() if isinstance(stored, bytes) else str(stored)
        if not hmac.compare_digest(stored, self._digest(phone, code)):
            return False
        return bool(await self._consume(keys=[_key(phone)], args=[stored]))

    def _digest(self, phone: str, code: str) -> str:
        return hmac.new(self._secret, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _key(phone: str) -> str:
    return f"gateway:sms-code:{phone}"
