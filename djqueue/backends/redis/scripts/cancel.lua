-- ARGV: id, now, expiry.
local id, key = ARGV[1], mkey(ARGV[1])
local state = redis.call('HGET', key, 'state')
if state == 'queued' then
  redis.call('ZREM', base .. ':ready', id)
elseif state == 'scheduled' then
  redis.call('ZREM', base .. ':scheduled', id)
else
  return 0
end
finish(id, key, 'cancelled', ARGV[2], ARGV[3])
wake_waiters(id, 0)
return 1
