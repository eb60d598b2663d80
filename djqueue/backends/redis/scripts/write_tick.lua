-- ARGV: command name, tick, now, the PLACED values of place().
local key = base .. ':tick:' .. ARGV[1]
if (tonumber(redis.call('GET', key)) or -1) >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', key, ARGV[2])
redis.call('HSET', base .. ':ticks', ARGV[1], ARGV[2])
wake_consumers(place(4, ARGV[3]))
return 1
