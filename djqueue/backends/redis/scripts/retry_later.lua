-- ARGV: id, token, eta, error, traceback, now, attempt errors (JSON).
local id, key = ARGV[1], mkey(ARGV[1])
if not leased(key, ARGV[2]) then return 0 end
redis.call('ZREM', base .. ':running', id)
unlock(id, key)
redis.call('HDEL', key, 'suspect', 'progress')
redis.call('HSET', key, 'eta', ARGV[3], 'error', ARGV[4], 'traceback', ARGV[5],
  'attempt_errors', ARGV[7], 'lease_token', '', 'lease_expires_at', '')
if tonumber(ARGV[3]) > tonumber(ARGV[6]) then
  redis.call('HSET', key, 'state', 'scheduled')
  redis.call('ZADD', base .. ':scheduled', ARGV[3], id)
else
  redis.call('HSET', key, 'state', 'queued')
  redis.call('ZADD', base .. ':ready', score(key), id)
  wake_consumers(1)
end
return 1
