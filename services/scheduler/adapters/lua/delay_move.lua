-- Move due delayed events to their target streams, atomically, one batch per call.
-- KEYS: due zset, payload hash, keys hash, key-expiry zset, streams set, then every target
-- stream the caller knows of (a script touches only the keys it is given; an entry whose
-- stream is not among them waits for the next call, which lists it).
-- ARGV: batch size, how long (ms) a fired delay's key keeps naming it.
-- Returns {moved, looked at, lateness ms of each moved entry...}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local targets = {}
for i = 6, #KEYS do targets[KEYS[i]] = true end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0,
                      tonumber(ARGV[1]))
local reply = {0, #due / 2}
for i = 1, #due, 2 do
  local id = due[i]
  local raw = redis.call('HGET', KEYS[2], id)
  if not raw then
    redis.call('ZREM', KEYS[1], id)
  else
    local p = cjson.decode(raw)
    if targets[p.s] then
      redis.call('XADD', p.s, '*', '__data__', p.e)
      redis.call('ZREM', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
      if p.k ~= '' then
        redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), p.k)
      end
      reply[1] = reply[1] + 1
      reply[#reply + 1] = now - tonumber(due[i + 1])
    end
  end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, 100)
for _, key in ipairs(expired) do
  redis.call('HDEL', KEYS[3], key)
  redis.call('ZREM', KEYS[4], key)
end
return reply
