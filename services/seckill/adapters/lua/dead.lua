-- An order request that failed for good: dead-letter it and compensate, atomically.
-- KEYS: 1 orders stream, 2 dead stream, 3 ticket hash, 4 item hash, 5 buyers set
-- ARGV: 1 group, 2 entry id, 3 entry __data__, 4 error, 5 deliveries, 6 user id,
--       7 failed_at (RFC 3339), 8 ticket ttl (s)
-- The XACK is the guard: only the first call for an entry still pending has any effect.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', '__data__', ARGV[3], 'source_stream', KEYS[1],
           'source_id', ARGV[2], 'group', ARGV[1], 'error', ARGV[4],
           'deliveries', ARGV[5], 'failed_at', ARGV[7])
redis.call('HSET', KEYS[3], 'status', 'failed', 'reason', 'order-failed')
redis.call('EXPIRE', KEYS[3], ARGV[8], 'NX')
-- An item missing from Redis (lost, not warmed yet) gets its unit back from `warm`.
if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('HINCRBY', KEYS[4], 'remaining', 1) end
redis.call('SREM', KEYS[5], ARGV[6])
redis.call('PUBLISH', KEYS[3] .. ':final', 'failed')
return 1
