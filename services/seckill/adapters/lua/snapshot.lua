-- One item's Redis figures at one instant, for reconcile: remaining stock and the tickets
-- of order requests the order writer has not acknowledged (pending or not yet delivered),
-- but for those whose admission was undone already (failed, waiting for their ack).
-- KEYS: 1 item hash, 2 orders stream, 3 released set
-- ARGV: 1 group, 2 item id
local remaining = redis.call('HGET', KEYS[1], 'remaining')
local tickets = {}
if redis.call('EXISTS', KEYS[2]) == 0 then return {remaining, tickets} end
local function collect(entries)
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == '__data__' then
        local outer = cjson.decode(fields[i + 1])
        local envelope = cjson.decode(outer['data'])
        local ticket = envelope['data']['ticket']
        if tostring(envelope['data']['item_id']) == ARGV[2]
            and redis.call('SISMEMBER', KEYS[3], tostring(ticket)) == 0 then
          table.insert(tickets, ticket)
        end
      end
    end
  end
end
local last = nil
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[2])) do
  local info = {}
  for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
  if info['name'] == ARGV[1] then last = info['last-delivered-id'] end
end
if last then
  for _, p in ipairs(redis.call('XPENDING', KEYS[2], ARGV[1], '-', '+', 1000000)) do
    collect(redis.call('XRANGE', KEYS[2], p[1], p[1]))
  end
  collect(redis.call('XRANGE', KEYS[2], '(' .. last, '+'))
else
  collect(redis.call('XRANGE', KEYS[2], '-', '+'))
end
return {remaining, tickets}
