-- ARGV: now, most messages to delete.
local ids = redis.call('ZRANGEBYSCORE', base .. ':expiry', '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  redis.call('DEL', mkey(id), base .. ':w:' .. id)
  for _, state in ipairs({'done', 'failed', 'cancelled', 'expired', 'expiry'}) do
    redis.call('ZREM', base .. ':' .. state, id)
  end
end
return #ids
