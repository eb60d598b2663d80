-- ARGV: id, token, id, token, ...
local released = 0
for i = 1, #ARGV, 2 do
  local id, key = ARGV[i], mkey(ARGV[i])
  if leased(key, ARGV[i + 1]) then
    redis.call('ZREM', base .. ':running', id)
    unlock(id, key)
    bump(key, -1)
    redis.call('HDEL', key, 'progress')
    redis.call('HSET', key, 'state', 'queued', 'lease_token', '', 'lease_expires_at', '')
    redis.call('ZADD', base .. ':ready', score(key), id)
    released = released + 1
  end
end
wake_consumers(released)
return released
