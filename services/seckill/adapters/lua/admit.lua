-- One flash-sale attempt, atomically, on keys of one hash slot ({pN}).
-- KEYS: 1 item hash, 2 buyers set, 3 ticket hash, 4 orders stream, 5 partition item index,
--       6 partition loaded marker, [7 idempotency key]
-- ARGV: 1 item id, 2 user id, 3 ticket, 4 event id, 5 producer, 6 correlation id,
--       7 ticket ttl (s), 8 the attempt's traceparent (carried into the order request)
-- Returns {outcome} or {"admitted", ticket}. The order of the checks is the contract's:
-- window, duplicate buyer (before any decrement), stock; then decrement, buyer, ticket, XADD.
local item_id, user, ticket = ARGV[1], ARGV[2], ARGV[3]

if KEYS[7] then
  local earlier = redis.call('GET', KEYS[7])
  if earlier then return {'admitted', earlier} end
end

local item = redis.call('HMGET', KEYS[1], 'remaining', 'starts_at_ms', 'ends_at_ms', 'price')
if not item[1] then
  if redis.call('EXISTS', KEYS[6]) == 0 or redis.call('SISMEMBER', KEYS[5], item_id) == 1 then
    return {'not-ready'}
  end
  return {'not-found'}
end

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now_ms < tonumber(item[2]) then return {'not-started'} end
if now_ms >= tonumber(item[3]) then return {'ended'} end
if redis.call('SISMEMBER', KEYS[2], user) == 1 then return {'already-purchased'} end
if tonumber(item[1]) <= 0 then return {'sold-out'} end

redis.call('HINCRBY', KEYS[1], 'remaining', -1)
redis.call('SADD', KEYS[2], user)
redis.call('HSET', KEYS[3], 'status', 'pending', 'user_id', user, 'item_id', item_id,
           'order_id', '', 'reason', '')
redis.call('EXPIRE', KEYS[3], ARGV[7])
if KEYS[7] then redis.call('SET', KEYS[7], ticket, 'EX', ARGV[7]) end
redis.call('XADD', KEYS[4], '*', '__data__', encode_entry(
  ARGV[4], 'order.requested', ARGV[5], ARGV[6], now_ms,
  {ticket = ticket, item_id = tonumber(item_id), user_id = tonumber(user), price = item[4]},
  ARGV[8]))
return {'admitted', ticket}
