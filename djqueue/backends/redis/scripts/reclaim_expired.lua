-- ARGV: now, failed expiry, reason.
local ids = redis.call('ZRANGEBYSCORE', base .. ':running', '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)
for _, id in ipairs(ids) do
  redis.call('ZREM', base .. ':running', id)
  local key = readable(id, ARGV[1], ARGV[2])
  local fields = key and redis.call('HMGET', key, 'attempts', 'max_attempts')
  if not key then
    -- failed by readable()
  elseif (tonumber(fields[1]) or 0) >= (tonumber(fields[2]) or 1) then
    redis.call('HSET', key, 'error', ARGV[3])
    finish(id, key, 'failed', ARGV[1], ARGV[2])
    wake_waiters(id, 0)
  else
    unlock(id, key)
    redis.call('HSET', key, 'state', 'queued', 'suspect', '1', 'lease_token', '',
      'lease_expires_at', '')
    redis.call('ZADD', base .. ':ready', score(key), id)
  end
end
wake_consumers(#ids)
return #ids
