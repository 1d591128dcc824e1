-- `coursestream streams retry-dead` on an order stream. A dead order request gave its unit
-- back when it died, and the unit may have been sold since: the request is admitted again
-- (stock and buyer checked as at admission, the sale window not: the failure was ours) and
-- only then put back on its stream, or refused and its ticket told why. One slot: the dead
-- stream carries the item's hash tag, and removing the dead entry is the guard against
-- retrying it twice.
-- KEYS: 1 dead stream, 2 orders stream, 3 item hash, 4 buyers set, 5 released set, 6 ticket hash
-- ARGV: 1 dead entry id, 2 the request's __data__, 3 user id, 4 item id, 5 ticket, 6 ticket ttl (s)
-- Returns 'admitted', 'already-purchased' or 'sold-out' (the dead entry is removed), or
-- 'not-ready' (the item is not in Redis: warm first) or 'gone' (retried already), which
-- change nothing.
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 'gone' end
local remaining = redis.call('HGET', KEYS[3], 'remaining')
if not remaining then return 'not-ready' end
redis.call('XDEL', KEYS[1], ARGV[1])
local outcome = 'admitted'
if redis.call('SISMEMBER', KEYS[4], ARGV[3]) == 1 then
  outcome = 'already-purchased'
elseif tonumber(remaining) <= 0 then
  outcome = 'sold-out'
end
if outcome ~= 'admitted' then
  redis.call('HSET', KEYS[6], 'status', 'failed', 'user_id', ARGV[3], 'item_id', ARGV[4],
             'order_id', '', 'reason', outcome)
  redis.call('EXPIRE', KEYS[6], ARGV[6], 'NX')
  redis.call('PUBLISH', KEYS[6] .. ':final', 'failed')
  return outcome
end
redis.call('HINCRBY', KEYS[3], 'remaining', -1)
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('SREM', KEYS[5], ARGV[5])  -- it holds a unit again: undoing it may run again
redis.call('HSET', KEYS[6], 'status', 'pending', 'user_id', ARGV[3], 'item_id', ARGV[4],
           'order_id', '', 'reason', '')
redis.call('EXPIRE', KEYS[6], ARGV[6])
redis.call('XADD', KEYS[2], '*', '__data__', ARGV[2])
return outcome
