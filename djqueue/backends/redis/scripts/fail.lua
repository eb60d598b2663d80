-- ARGV: id, token, error, traceback, now, expiry, attempt errors (JSON).
local id, key = ARGV[1], mkey(ARGV[1])
if not leased(key, ARGV[2]) then return 0 end
redis.call('ZREM', base .. ':running', id)
redis.call('HSET', key, 'error', ARGV[3], 'traceback', ARGV[4], 'attempt_errors', ARGV[7])
finish(id, key, 'failed', ARGV[5], ARGV[6])
wake_waiters(id, 0)
return 1
