-- The functions every program starts with: lua.py puts this file before
-- each program's own.
local base = KEYS[1]
local function mkey(id) return base .. ':m:' .. id end
-- The ready set's score, the only place it is computed: tenths of a
-- millisecond of the eta from 2020-01-01 within bands of BAND per priority
-- (exact in a double for priorities -100 to 100 until 2146), higher
-- priority first; equal scores fall back to the time-ordered id. Suspect
-- messages score -8e15 plus their eta's ticks, below SUSPECT_CEILING,
-- before every ordinary message.
local BAND = 4e13
local SUSPECT_CEILING = '-6000000000000000'
local function position(priority, eta, suspect)
  local ticks = math.floor(((tonumber(eta) or 0) - 1577836800) * 10000)
  if suspect then return -8e15 + ticks end
  return -math.max(-100, math.min(100, tonumber(priority) or 0)) * BAND + ticks
end
local function score(key)
  local fields = redis.call('HMGET', key, 'priority', 'eta', 'suspect')
  return position(fields[1], fields[2], fields[3] == '1')
end
local function leased(key, token)
  local fields = redis.call('HMGET', key, 'state', 'lease_token')
  return fields[1] == 'running' and fields[2] == token
end
local function wake_consumers(count)
  if count < 1 then return end
  local tokens = {}
  for i = 1, math.min(count, 100) do tokens[i] = '1' end
  if redis.call('LPUSH', base .. ':notify', unpack(tokens)) > 100 then
    redis.call('LTRIM', base .. ':notify', 0, 99)
  end
end
local function wake_waiters(id, keep_ms)
  local key = base .. ':w:' .. id
  redis.call('DEL', key)
  redis.call('RPUSH', key, '1')
  redis.call('PEXPIRE', key, math.max(keep_ms, 60000))
end
local function release_unique(id, key)
  local unique = redis.call('HGET', key, 'unique_key')
  if unique and unique ~= '' then
    local pointer = base .. ':u:' .. unique
    if redis.call('GET', pointer) == id then redis.call('DEL', pointer) end
  end
end
-- The pointer of the message's lock key, or nil if it has none (or its
-- key holds no hash: readable() deals with that).
local function lock_of(key)
  local lock = redis.pcall('HGET', key, 'lock_key')
  if type(lock) == 'string' and lock ~= '' then return base .. ':l:' .. lock end
  return nil
end
-- Whether a running message other than id holds the lock; the hold of a
-- message that is gone or no longer running counts for nothing.
local function held(pointer, id)
  local holder = redis.pcall('GET', pointer)
  if type(holder) ~= 'string' or holder == id then return false end
  return redis.pcall('HGET', mkey(holder), 'state') == 'running'
end
-- Give up the lock key the message holds, waking a consumer for the next
-- message of the key.
local function unlock(id, key)
  local pointer = lock_of(key)
  if pointer and redis.pcall('GET', pointer) == id then
    redis.call('DEL', pointer)
    wake_consumers(1)
  end
end
local function finish(id, key, state, now, expires)
  release_unique(id, key)
  unlock(id, key)
  redis.call('HDEL', key, 'suspect')
  redis.call('HSET', key, 'state', state, 'finished_at', now, 'expires_at', expires,
    'lease_token', '', 'lease_expires_at', '')
  redis.call('ZADD', base .. ':' .. state, now, id)
  if expires ~= '' then
    redis.call('ZADD', base .. ':expiry', expires, id)
  end
end
-- The operator's changes of one message (retry, run_now, cancel and
-- delete run one; change_many runs them for many): 1 if it changed, else 0.
local function retry_message(id, now)
  local key = mkey(id)
  local state = redis.call('HGET', key, 'state')
  if state ~= 'failed' and state ~= 'cancelled' and state ~= 'expired' then return 0 end
  if redis.call('HEXISTS', key, 'command') == 0 then return 0 end
  redis.call('ZREM', base .. ':' .. state, id)
  redis.call('ZREM', base .. ':expiry', id)
  redis.call('HDEL', key, 'progress')
  -- An operator asked for a run: the deadline no longer holds.
  redis.call('HDEL', key, 'deadline')
  redis.call('ZREM', base .. ':deadlines', id)
  redis.call('HSET', key, 'state', 'queued', 'attempts', 0, 'eta', now, 'error', '',
    'traceback', '', 'finished_at', '', 'expires_at', '')
  redis.call('ZADD', base .. ':ready', score(key), id)
  wake_consumers(1)
  return 1
end
local function cancel_message(id, now, expiry)
  local key = mkey(id)
  local state = redis.call('HGET', key, 'state')
  if state == 'queued' then
    redis.call('ZREM', base .. ':ready', id)
  elseif state == 'scheduled' then
    redis.call('ZREM', base .. ':scheduled', id)
  else
    return 0
  end
  finish(id, key, 'cancelled', now, expiry)
  wake_waiters(id, 0)
  return 1
end
local function run_now_message(id, now)
  local key = mkey(id)
  if redis.call('TYPE', key)['ok'] ~= 'hash' then return 0 end
  if redis.call('HGET', key, 'state') ~= 'scheduled' then return 0 end
  redis.call('ZREM', base .. ':scheduled', id)
  redis.call('HSET', key, 'state', 'queued', 'eta', now)
  redis.call('ZADD', base .. ':ready', score(key), id)
  wake_consumers(1)
  return 1
end
local function delete_message(id)
  if redis.call('TYPE', mkey(id))['ok'] == 'hash' then
    release_unique(id, mkey(id))
    unlock(id, mkey(id))
  end
  local removed = redis.call('DEL', mkey(id))
  redis.call('DEL', base .. ':w:' .. id)
  for _, state in ipairs({'ready', 'scheduled', 'running', 'done', 'failed', 'cancelled',
      'expired', 'expiry', 'deadlines'}) do
    removed = removed + redis.call('ZREM', base .. ':' .. state, id)
  end
  return removed > 0 and 1 or 0
end
local function orphan(id, now, expires, what)
  local key = mkey(id)
  redis.call('HSET', key, 'id', id, 'attempts', 0, 'max_attempts', 1, 'error', what)
  finish(id, key, 'failed', now, expires)
end
-- The one placement of a new message, for every write script. ARGV[a] to
-- ARGV[a + PLACED - 1] are the id, command, eta, priority, attempts,
-- maximum attempts, payload, signature, enqueue time, serializer, options,
-- unique key, lock key and deadline, the last five '' for the default or
-- none: see hashes.placed(). Store the hash (a deadline goes in the
-- deadlines set too), then put the id in the scheduled set if its eta is
-- after now, else in the ready set; return 1 if it is ready.
local PLACED = 14
local function place(a, now)
  local id, eta = ARGV[a], ARGV[a + 2]
  local scheduled = tonumber(eta) > tonumber(now)
  local fields = {'command', ARGV[a + 1], 'state', scheduled and 'scheduled' or 'queued',
    'eta', eta, 'priority', ARGV[a + 3], 'attempts', ARGV[a + 4],
    'max_attempts', ARGV[a + 5], 'payload', ARGV[a + 6], 'signature', ARGV[a + 7],
    'enqueued_at', ARGV[a + 8]}
  local optional = {'serializer', 'options', 'unique_key', 'lock_key', 'deadline'}
  for i = 1, 5 do
    if ARGV[a + 8 + i] ~= '' then
      fields[#fields + 1] = optional[i]
      fields[#fields + 1] = ARGV[a + 8 + i]
    end
  end
  redis.call('HSET', mkey(id), unpack(fields))
  if ARGV[a + 13] ~= '' then
    redis.call('ZADD', base .. ':deadlines', ARGV[a + 13], id)
  end
  if scheduled then
    redis.call('ZADD', base .. ':scheduled', eta, id)
    return 0
  end
  redis.call('ZADD', base .. ':ready', position(ARGV[a + 3], eta, false), id)
  return 1
end
local NO_BODY = 'no message body is stored for this id (was it written to Redis directly?)'
-- Scripts must never raise once they changed something (Redis does not roll
-- back), so stored values are read defensively and keys checked for type.
local function bump(key, delta)
  local attempts = (tonumber(redis.call('HGET', key, 'attempts')) or 0) + delta
  redis.call('HSET', key, 'attempts', attempts)
end
local function readable(id, now, expires)
  local key = mkey(id)
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'hash' then return key end
  if kind == 'none' then
    orphan(id, now, expires, NO_BODY)
  else
    redis.call('DEL', key)
    orphan(id, now, expires, 'the message key held a ' .. kind .. ', not a message hash')
  end
  return nil
end
-- A stamp as Python's isoformat() writes the moment in UTC (Lua has no
-- calendar): the days since 1970 to a civil date, H. Hinnant's algorithm.
local function iso_moment(stamp)
  local whole, fraction = string.match(stamp, '^(-?%d+)%.?(%d*)$')
  if not whole then return stamp end
  local seconds, micros = tonumber(whole), tonumber(string.sub(fraction .. '000000', 1, 6))
  if string.sub(whole, 1, 1) == '-' and micros > 0 then
    seconds, micros = seconds - 1, 1000000 - micros
  end
  local days = math.floor(seconds / 86400)
  local rest = seconds - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local day = doy - math.floor((153 * mp + 2) / 5) + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400 + (month <= 2 and 1 or 0)
  local text = string.format('%04d-%02d-%02dT%02d:%02d:%02d', year, month, day,
    math.floor(rest / 3600), math.floor(rest % 3600 / 60), rest % 60)
  if micros > 0 then text = text .. string.format('.%06d', micros) end
  return text .. '+00:00'
end
-- Move a queued or scheduled message that was never claimed to expired,
-- if its deadline is at or before now, with the error
-- backends.expiry.expired_reason() writes; 1 if it did.
local function expire(id, key, now, expires)
  local fields = redis.pcall('HMGET', key, 'state', 'attempts', 'deadline')
  if type(fields) ~= 'table' or fields.err then return 0 end
  local deadline = tonumber(fields[3])
  if not deadline or deadline > tonumber(now) then return 0 end
  if (tonumber(fields[2]) or 0) ~= 0 then return 0 end
  if fields[1] == 'queued' then
    redis.call('ZREM', base .. ':ready', id)
  elseif fields[1] == 'scheduled' then
    redis.call('ZREM', base .. ':scheduled', id)
  else
    return 0
  end
  redis.call('ZREM', base .. ':deadlines', id)
  redis.call('HSET', key, 'error', 'expired at ' .. iso_moment(fields[3]) .. ', before it started',
    'traceback', '')
  finish(id, key, 'expired', now, expires)
  wake_waiters(id, 0)
  return 1
end
-- Lease up to ARGV[a] ready messages, suspect ones or the others:
-- ARGV[a..a+5] are the limit, lease expiry, lease token, worker, now and
-- failed expiry. Ids with no body are failed on the way and do not count.
-- A message never claimed whose deadline passed is moved to expired on the
-- way, its id put on the :expired_news list for expire_due to announce; it
-- does not count either, and after LAPSED_PER_CLAIM of them the claim
-- ends, so that it stays short, and wakes a consumer to claim again. An
-- empty answer otherwise means no ready id but those whose lock key is
-- held, which stay ready, unchanged.
local LAPSED_PER_CLAIM = 1000
local function claim(a, suspect)
  local limit, lease, token, worker, now = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local low, high = SUSPECT_CEILING, '+inf'
  if suspect then low, high = '-inf', '(' .. SUSPECT_CEILING end
  local claimed, skipped, taken, lapsed = {}, 0, {}, 0
  while #claimed < limit and lapsed < LAPSED_PER_CLAIM do
    -- Once it steps over messages of held keys, in windows of 100 ids.
    local window = limit - #claimed
    if skipped > 0 then window = math.max(window, 100) end
    local ids = redis.call('ZRANGEBYSCORE', base .. ':ready', low, high, 'LIMIT', skipped, window)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      if #claimed >= limit or lapsed >= LAPSED_PER_CLAIM then break end
      -- One read of the fields the claim decides on; a message without a
      -- deadline is past the expiry test at its first comparison.
      local fields = redis.pcall('HMGET', mkey(id), 'lock_key', 'deadline')
      if type(fields) ~= 'table' or fields.err then fields = {} end
      local pointer = nil
      if type(fields[1]) == 'string' and fields[1] ~= '' then pointer = base .. ':l:' .. fields[1] end
      local expired = fields[2] and expire(id, mkey(id), now, ARGV[a + 5]) == 1
      if expired then
        redis.call('RPUSH', base .. ':expired_news', id)
        lapsed = lapsed + 1
      elseif pointer and taken[pointer] == nil then
        taken[pointer] = held(pointer, id)
      end
      if expired then
        -- Neither claimed nor stepped over: it left the ready set.
      elseif pointer and taken[pointer] then
        skipped = skipped + 1
      else
        redis.call('ZREM', base .. ':ready', id)
        local key = readable(id, now, ARGV[a + 5])
        if key and pointer then
          redis.call('SET', pointer, id)
          taken[pointer] = true
        end
        if key then
          bump(key, 1)
          redis.call('HSET', key, 'state', 'running', 'lease_token', token,
            'lease_expires_at', lease, 'worker', worker, 'started_at', now)
          redis.call('ZADD', base .. ':running', lease, id)
          -- The id the hash is stored under, whatever its fields hold.
          local row = redis.call('HGETALL', key)
          row[#row + 1] = 'id'
          row[#row + 1] = id
          claimed[#claimed + 1] = row
        end
      end
    end
  end
  -- Stopped short by expired messages: a consumer blocked on :notify
  -- comes back at once for the ready ones behind them.
  if lapsed >= LAPSED_PER_CLAIM then wake_consumers(1) end
  return claimed
end
-- Mark a leased message done at now: ARGV[a] to ARGV[a + ACKED - 1] are
-- the id, lease token, result ('' for none), result TTL in ms and expiry.
-- 1 if done, 0 if the lease was lost.
local ACKED = 5
local function ack(a, now)
  local id, key = ARGV[a], mkey(ARGV[a])
  if not leased(key, ARGV[a + 1]) then return 0 end
  redis.call('ZREM', base .. ':running', id)
  local ttl = tonumber(ARGV[a + 3])
  if ttl == 0 then
    release_unique(id, key)
    unlock(id, key)
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 'result', ARGV[a + 2], 'error', '', 'traceback', '')
    finish(id, key, 'done', now, ARGV[a + 4])
    redis.call('PEXPIRE', key, ttl)
  end
  wake_waiters(id, ttl)
  return 1
end
