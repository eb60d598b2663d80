-- ARGV: id, now.
local id, key = ARGV[1], mkey(ARGV[1])
if redis.call('TYPE', key)['ok'] ~= 'hash' then return 0 end
if redis.call('HGET', key, 'state') ~= 'scheduled' then return 0 end
redis.call('ZREM', base .. ':scheduled', id)
redis.call('HSET', key, 'state', 'queued', 'eta', ARGV[2])
redis.call('ZADD', base .. ':ready', score(key), id)
wake_consumers(1)
return 1
