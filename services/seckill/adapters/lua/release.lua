-- Give a unit back to stock once per member, and free the buyer to try again.
-- KEYS: 1 item hash, 2 buyers set, 3 released set
-- ARGV: 1 member (`o:<order id>` or `t:<ticket>`), 2 user id to remove from buyers, or ''
-- Idempotent by member: a redelivered expiry or rejection returns nothing twice.
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'remaining', 1)
end
if ARGV[2] ~= '' then redis.call('SREM', KEYS[2], ARGV[2]) end
return 1
