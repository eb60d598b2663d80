-- ARGV: now, failed expiry, reason (last attempt), reason (runs again),
-- how many attempt errors a message keeps.
-- The lost attempt joins the message's attempt errors with the worker and
-- start its hash still holds; its moments are stamps, which hashes.py reads
-- as ISO 8601 like the others.
local function lost(key, last)
  local fields = redis.call('HMGET', key, 'attempts', 'worker', 'started_at',
    'attempt_errors')
  local ok, errors = pcall(cjson.decode, fields[4] or '')
  if not ok or type(errors) ~= 'table' then errors = {} end
  table.insert(errors, {attempt = tonumber(fields[1]) or 0, worker = fields[2] or '',
    started_at = fields[3] or '', at = ARGV[1], outcome = 'lost', exception = '',
    error = last and ARGV[3] or ARGV[4], traceback = ''})
  local kept, keep = {}, tonumber(ARGV[5])
  for i = math.max(1, #errors - keep + 1), #errors do
    table.insert(kept, errors[i])
  end
  redis.call('HSET', key, 'attempt_errors', cjson.encode(kept))
end
local ids = redis.call('ZRANGEBYSCORE', base .. ':running', '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)
-- The reply: how many were taken back, then the ids failed on their last attempt.
local reply = {#ids}
for _, id in ipairs(ids) do
  redis.call('ZREM', base .. ':running', id)
  local key = readable(id, ARGV[1], ARGV[2])
  local fields = key and redis.call('HMGET', key, 'attempts', 'max_attempts')
  if not key then
    -- failed by readable()
  elseif (tonumber(fields[1]) or 0) >= (tonumber(fields[2]) or 1) then
    lost(key, true)
    redis.call('HSET', key, 'error', ARGV[3])
    finish(id, key, 'failed', ARGV[1], ARGV[2])
    wake_waiters(id, 0)
    table.insert(reply, id)
  else
    lost(key, false)
    unlock(id, key)
    redis.call('HDEL', key, 'progress')
    redis.call('HSET', key, 'state', 'queued', 'suspect', '1', 'lease_token', '',
      'lease_expires_at', '')
    redis.call('ZADD', base .. ':ready', score(key), id)
  end
end
wake_consumers(#ids)
return reply
