-- ARGV: now, failed expiry.
local ids = redis.call('ZRANGEBYSCORE', base .. ':scheduled', '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, id in ipairs(ids) do
  redis.call('ZREM', base .. ':scheduled', id)
  local key = readable(id, ARGV[1], ARGV[2])
  if key then
    redis.call('HSET', key, 'state', 'queued')
    redis.call('ZADD', base .. ':ready', score(key), id)
  end
end
wake_consumers(#ids)
return #ids
