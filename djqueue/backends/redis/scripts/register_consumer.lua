-- ARGV: consumer id, details, alive until, now.
local details, alive = base .. ':consumers', base .. ':consumers:alive'
redis.call('HSET', details, ARGV[1], ARGV[2])
redis.call('ZADD', alive, ARGV[3], ARGV[1])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', alive, '-inf', ARGV[4], 'LIMIT', 0, 100)) do
  redis.call('HDEL', details, id)
  redis.call('ZREM', alive, id)
end
return 1
