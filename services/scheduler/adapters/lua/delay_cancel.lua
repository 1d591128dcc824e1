-- Cancel a pending delay by id (ARGV[1]) or by key (ARGV[2]). Returns 1 if one was pending.
-- KEYS: due zset, payload hash, keys hash, key-expiry zset.
local id = ARGV[1]
if id == '' then
  local existing = redis.call('HGET', KEYS[3], ARGV[2])
  if not existing then return 0 end
  id = string.sub(existing, 1, string.find(existing, '|', 1, true) - 1)
end
if redis.call('ZREM', KEYS[1], id) == 0 then return 0 end
local raw = redis.call('HGET', KEYS[2], id)
redis.call('HDEL', KEYS[2], id)
if raw then
  local key = cjson.decode(raw).k
  if key ~= '' then
    redis.call('HDEL', KEYS[3], key)
    redis.call('ZREM', KEYS[4], key)
  end
end
return 1
