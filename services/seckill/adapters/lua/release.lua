-- Undo one admission at most once per ticket, whichever path asks: a rejection, a refusal
-- for stock by the database, a dead letter, an order expiry. The released set holds every
-- ticket undone, so another path, or the same one again, gives nothing back twice.
-- KEYS: 1 item hash, 2 buyers set, 3 released set, 4 ticket hash
-- ARGV: 1 ticket, 2 user id to drop from buyers (they may try again) or '',
--       3 '1' to give the unit back to stock, 4 the ticket's failure reason or '' (the
--       ticket is left as it is: an expired order's ticket stays a success), 5 ticket ttl (s)
-- Returns 1 when this call undid the admission, 0 when it had been undone already.
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 0 end
-- An item missing from Redis (lost, not warmed yet) gets its units back from `warm`.
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'remaining', 1)
end
if ARGV[2] ~= '' then redis.call('SREM', KEYS[2], ARGV[2]) end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[4], 'status', 'failed', 'order_id', '', 'reason', ARGV[4])
  redis.call('EXPIRE', KEYS[4], ARGV[5], 'NX')
  redis.call('PUBLISH', KEYS[4] .. ':final', 'failed')
end
return 1
