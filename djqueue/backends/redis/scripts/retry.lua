-- ARGV: id, now.
local id, key = ARGV[1], mkey(ARGV[1])
local state = redis.call('HGET', key, 'state')
if state ~= 'failed' and state ~= 'cancelled' then return 0 end
if redis.call('HEXISTS', key, 'command') == 0 then return 0 end
redis.call('ZREM', base .. ':' .. state, id)
redis.call('ZREM', base .. ':expiry', id)
redis.call('HSET', key, 'state', 'queued', 'attempts', 0, 'eta', ARGV[2], 'error', '',
  'traceback', '', 'attempt_errors', '', 'finished_at', '', 'expires_at', '')
redis.call('ZADD', base .. ':ready', score(key), id)
wake_consumers(1)
return 1
