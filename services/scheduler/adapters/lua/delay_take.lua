-- Take one batch of due delays for publishing: the first of the mover's two steps.
-- KEYS: due zset, payload hash, keys hash, key-expiry zset, in-flight zset (one hash tag).
-- ARGV: batch size, how long (ms) a fired delay's key keeps naming it, how long (ms) a taken
-- delay stays with its taker before any mover takes it again.
-- A taken delay leaves the due zset for the in-flight zset (score: when it may be taken
-- again); the mover publishes it once by its id, then `done` removes it. A mover that dies
-- in between leaves it in flight, and the next take after that time hands it out again.
-- Returns {due entries looked at, then id, payload, lateness ms for each taken delay}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local batch = tonumber(ARGV[1])
local retake_at = now + tonumber(ARGV[3])
local reply = {0}
local function take(id, raw, due_ms)
  redis.call('ZADD', KEYS[5], retake_at, id)
  reply[#reply + 1] = id
  reply[#reply + 1] = raw
  reply[#reply + 1] = now - due_ms
end
-- In flight past its time: its mover died before it was done (lateness from its due time).
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, batch)) do
  local raw = redis.call('HGET', KEYS[2], id)
  if raw then
    take(id, raw, tonumber(cjson.decode(raw).d) or now)
  else  -- cancelled, or done
    redis.call('ZREM', KEYS[5], id)
  end
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, batch)
reply[1] = #due / 2
for i = 1, #due, 2 do
  local id = due[i]
  redis.call('ZREM', KEYS[1], id)
  local raw = redis.call('HGET', KEYS[2], id)
  if raw then  -- else cancelled meanwhile
    local key = cjson.decode(raw).k
    if key ~= '' then
      redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), key)
    end
    take(id, raw, tonumber(due[i + 1]))
  end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, 100)
for _, key in ipairs(expired) do
  redis.call('HDEL', KEYS[3], key)
  redis.call('ZREM', KEYS[4], key)
end
return reply
