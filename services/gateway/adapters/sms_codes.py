"""Login codes in Redis: stored as HMACs, a cooldown and a daily cap per phone, tries counted
atomically, per code and per phone across codes.

Two keys per phone, in one cluster slot (the phone is their hash tag):
- `gateway:sms-code:{phone}`, a hash: `digest` (HMAC-SHA256 of phone and code, "" once used or
  void), `tries` (of this code), `issued_ms`, `sent_today` and `day_ends_ms` (codes sent in the
  current day-long window). It lives as long as that window, and at least as long as the
  code; the code's own life is `issued_ms` + the code TTL. The cooldown is read from
  `issued_ms`, so using or voiding a code does not lift it.
- `gateway:sms-fails:{phone}`, a counter of wrong codes over a window: a new code does not
  reset it, so asking for code after code gives no more guesses.
"""

from __future__ import annotations

import hashlib
import hmac

from services.gateway.adapters.rate_limits import WindowLimit, ceil_seconds
from services.gateway.domain import (
    CodeCoolingDown,
    TooManyCodeRequests,
    TooManyCodesForPhone,
    new_code,
)
from shared.redis import RedisClient, text

DAY_MS = 24 * 3600 * 1000

# Refuses while the last code is younger than the cooldown ({1, ms to wait}) or the phone
# had its day's codes ({2, ms to wait}); else stores the new code ({0, 0}).
ISSUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local issued = tonumber(redis.call('HGET', KEYS[1], 'issued_ms') or '0')
local wait = issued + tonumber(ARGV[3]) - now
if issued > 0 and wait > 0 then return {1, wait} end
local day_ends = tonumber(redis.call('HGET', KEYS[1], 'day_ends_ms') or '0')
local sent = tonumber(redis.call('HGET', KEYS[1], 'sent_today') or '0')
if day_ends <= now then
  day_ends = now + tonumber(ARGV[5])
  sent = 0
end
if sent >= tonumber(ARGV[4]) then return {2, day_ends - now} end
redis.call('HSET', KEYS[1], 'digest', ARGV[1], 'tries', 0, 'issued_ms', now,
           'sent_today', sent + 1, 'day_ends_ms', day_ends)
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[2]), day_ends - now))
return {0, 0}
"""

# Counts the try, for the code and for the phone, before the caller compares, so concurrent
# tries can never exceed either limit; past one the code is void. Returns the stored digest,
# or false.
TAKE_TRY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local digest = redis.call('HGET', KEYS[1], 'digest')
if not digest or digest == '' then return false end
local issued = tonumber(redis.call('HGET', KEYS[1], 'issued_ms') or '0')
local fails = tonumber(redis.call('GET', KEYS[2]) or '0')
if issued + tonumber(ARGV[2]) <= now or fails >= tonumber(ARGV[3])
   or redis.call('HINCRBY', KEYS[1], 'tries', 1) > tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'digest', '')
  return false
end
redis.call('INCR', KEYS[2])
if redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return digest
"""

# Single use: of two concurrent right answers, one wins; the right try is no failure.
CONSUME = """
if redis.call('HGET', KEYS[1], 'digest') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'digest', '')
  if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
  return 1
end
return 0
"""


class SmsCodes:
    def __init__(
        self, redis: RedisClient, secret: str, *, ttl_s: int, cooldown_s: int, max_tries: int,
        ip_limit: int, ip_window_s: int, per_phone_per_day: int = 10,
        per_ip_per_day: int = 100, failures_per_phone: int = 10,
        failures_window_s: int = 24 * 3600,
    ) -> None:
        self._redis = redis
        self._secret = secret.encode()
        self.ttl_s, self.cooldown_s, self._max_tries = ttl_s, cooldown_s, max_tries
        self._per_phone_per_day = per_phone_per_day
        self._failures_per_phone, self._failures_window_s = failures_per_phone, failures_window_s
        self._per_address = WindowLimit(redis, "sms-ip", ip_limit, ip_window_s)
        self._per_address_daily = WindowLimit(redis, "sms-ip-day", per_ip_per_day, DAY_MS // 1000)
        self._issue = redis.register_script(ISSUE)
        self._take_try = redis.register_script(TAKE_TRY)
        self._consume = redis.register_script(CONSUME)

    async def issue(self, phone: str, client_ip: str) -> str:
        """A new code for the phone; raises when the address or the phone must wait."""
        for limit in (self._per_address, self._per_address_daily):
            retry_after = await limit.hit(client_ip)
            if retry_after is not None:
                raise TooManyCodeRequests(retry_after)
        code = new_code()
        refused, wait_ms = await self._issue(
            keys=[_code_key(phone)],
            args=[self._digest(phone, code), self.ttl_s * 1000, self.cooldown_s * 1000,
                  self._per_phone_per_day, DAY_MS],
        )
        if int(refused) == 1:
            raise CodeCoolingDown(ceil_seconds(int(wait_ms)))
        if int(refused) == 2:
            raise TooManyCodesForPhone(ceil_seconds(int(wait_ms)))
        return code

    async def withdraw(self, phone: str) -> None:
        """Void a code that could not be sent, and lift its cooldown, so the user may ask
        again at once."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(_code_key(phone), mapping={"digest": "", "issued_ms": 0})
            pipe.hincrby(_code_key(phone), "sent_today", -1)
            await pipe.execute()

    async def check(self, phone: str, code: str) -> bool:
        """True once for the right code within its life and its tries."""
        keys = [_code_key(phone), _failures_key(phone)]
        stored = await self._take_try(keys=keys, args=[
            self._max_tries, self.ttl_s * 1000, self._failures_per_phone,
            self._failures_window_s * 1000])
        if not stored:
            return False
        if not hmac.compare_digest(text(stored), self._digest(phone, code)):
            return False
        return bool(await self._consume(keys=keys, args=[stored]))

    def _digest(self, phone: str, code: str) -> str:
        return hmac.new(self._secret, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _code_key(phone: str) -> str:
    return f"gateway:sms-code:{{{phone}}}"


def _failures_key(phone: str) -> str:
    return f"gateway:sms-fails:{{{phone}}}"
