-- Store one delayed event, or answer with the delay its idempotency key already names.
-- KEYS: due zset, payload hash, keys hash, key-expiry zset (one hash tag).
-- ARGV: id, due ms, key ('' for none), payload JSON.
-- Returns {id, due ms, 1 if created}.
if ARGV[3] ~= '' then
  local existing = redis.call('HGET', KEYS[3], ARGV[3])
  if existing then
    local sep = string.find(existing, '|', 1, true)
    return {string.sub(existing, 1, sep - 1), string.sub(existing, sep + 1), 0}
  end
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[1] .. '|' .. ARGV[2])
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
return {ARGV[1], ARGV[2], 1}
