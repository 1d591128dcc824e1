-- Publish one scheduled run, once, and only while the caller still holds the lease.
-- KEYS[1] the leader lease, KEYS[2] the run's dedupe key, KEYS[3] the target stream.
-- ARGV[1] the caller's lease value (fencing token and owner; '' for a backfill, which any
-- replica may run: not fenced, still once by event id), ARGV[2] dedupe TTL in s,
-- ARGV[3] the entry's encoded envelope (shared.events.encode_entry).
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {'fenced'}
end
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[2])) then
  return {'duplicate'}
end
return {'published', redis.call('XADD', KEYS[3], '*', '__data__', ARGV[3])}
