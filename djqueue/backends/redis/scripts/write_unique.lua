-- ARGV: now, the PLACED values of place(), whose unique key is ARGV[13].
local id, pointer = ARGV[2], base .. ':u:' .. ARGV[13]
local holder = redis.call('GET', pointer)
if holder then
  local state = redis.call('HGET', mkey(holder), 'state')
  if state == 'queued' or state == 'scheduled' or state == 'running' then
    return holder
  end
end
redis.call('SET', pointer, id)
wake_consumers(place(2, ARGV[1]))
return id
