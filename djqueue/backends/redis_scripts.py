# ruff: noqa: E501 - Lua source lines
"""Lua scripts that move message ids between a Redis queue's structures.

Every state change is one script, so it is atomic and costs one round trip.
``KEYS[1]`` is the queue's key base, ``{prefix:queue}``: every key a script
touches starts with it, so a queue lives on one Redis Cluster slot.

Structures, under the base: ``:m:<id>`` a hash per message; ``:ready`` a
sorted set scored by priority then eta, suspect messages (``suspect`` is 1
in their hash) by eta in a band below every priority's, so each kind of
claim reads a score range of its own; ``:scheduled`` by eta; ``:running`` by
lease expiry; ``:done``, ``:failed``, ``:cancelled`` by finish time;
``:expiry`` by when a finished message may be deleted; ``:notify`` a list
that wakes blocked consumers; ``:w:<id>`` a list that wakes result waiters;
``:u:<key>`` the id of the pending message holding a unique key; ``:l:<key>``
the id of the running message holding a lock key.
"""

COMMON = """
local base = KEYS[1]
local function mkey(id) return base .. ':m:' .. id end
-- The ready set's score, the only place it is computed: tenths of a
-- millisecond of the eta from 2020-01-01 within bands of 4e13 per priority
-- (exact in a double for priorities -100 to 100 until 2146), higher
-- priority first; equal scores fall back to the time-ordered id. Suspect
-- messages score -8e15 plus their eta's ticks, below SUSPECT_CEILING
-- (redis_hash.SUSPECT_CEILING), before every ordinary message.
local SUSPECT_CEILING = '-6000000000000000'
local function position(priority, eta, suspect)
  local ticks = math.floor(((tonumber(eta) or 0) - 1577836800) * 10000)
  if suspect then return -8e15 + ticks end
  return -math.max(-100, math.min(100, tonumber(priority) or 0)) * 4e13 + ticks
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
local function orphan(id, now, expires, what)
  local key = mkey(id)
  redis.call('HSET', key, 'id', id, 'attempts', 0, 'max_attempts', 1, 'error', what)
  finish(id, key, 'failed', now, expires)
end
-- The one placement of a new message, for every write script. ARGV[a] to
-- ARGV[a + PLACED - 1] are the id, command, eta, priority, attempts,
-- maximum attempts, payload, signature, enqueue time, serializer, options,
-- unique key and lock key, the last four '' for the default or none: see
-- redis_hash.placed(). Store the hash, then put the id in the scheduled set
-- if its eta is after now, else in the ready set; return 1 if it is ready.
local PLACED = 13
local function place(a, now)
  local id, eta = ARGV[a], ARGV[a + 2]
  local scheduled = tonumber(eta) > tonumber(now)
  local fields = {'command', ARGV[a + 1], 'state', scheduled and 'scheduled' or 'queued',
    'eta', eta, 'priority', ARGV[a + 3], 'attempts', ARGV[a + 4],
    'max_attempts', ARGV[a + 5], 'payload', ARGV[a + 6], 'signature', ARGV[a + 7],
    'enqueued_at', ARGV[a + 8]}
  local optional = {'serializer', 'options', 'unique_key', 'lock_key'}
  for i = 1, 4 do
    if ARGV[a + 8 + i] ~= '' then
      fields[#fields + 1] = optional[i]
      fields[#fields + 1] = ARGV[a + 8 + i]
    end
  end
  redis.call('HSET', mkey(id), unpack(fields))
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
-- Lease up to ARGV[a] ready messages, suspect ones or the others:
-- ARGV[a..a+5] are the limit, lease expiry, lease token, worker, now and
-- failed expiry. Ids with no body are failed on the way and do not count,
-- so an empty answer means no ready id but those whose lock key is held,
-- which stay ready, unchanged.
local function claim(a, suspect)
  local limit, lease, token, worker, now = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local low, high = SUSPECT_CEILING, '+inf'
  if suspect then low, high = '-inf', '(' .. SUSPECT_CEILING end
  local claimed, skipped, taken = {}, 0, {}
  while #claimed < limit do
    -- Once it steps over messages of held keys, in windows of 100 ids.
    local window = limit - #claimed
    if skipped > 0 then window = math.max(window, 100) end
    local ids = redis.call('ZRANGEBYSCORE', base .. ':ready', low, high, 'LIMIT', skipped, window)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      if #claimed >= limit then break end
      local pointer = lock_of(mkey(id))
      if pointer and taken[pointer] == nil then taken[pointer] = held(pointer, id) end
      if pointer and taken[pointer] then
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
"""

# ARGV: limit, lease expiry, lease token, worker, now, failed expiry.
CLAIM = """
return claim(1, false)
"""

# ARGV: as CLAIM's, with a limit of 1.
CLAIM_SUSPECT = """
return claim(1, true)
"""

# ARGV: now, then PLACED values per message (see place()), any number of
# messages: write() and write_many() both. Returns how many became ready.
WRITE = """
local ready = 0
for a = 2, #ARGV, PLACED do ready = ready + place(a, ARGV[1]) end
wake_consumers(ready)
return ready
"""

# ARGV: command name, tick, now, the PLACED values of place().
WRITE_TICK = """
local key = base .. ':tick:' .. ARGV[1]
if (tonumber(redis.call('GET', key)) or -1) >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', key, ARGV[2])
redis.call('HSET', base .. ':ticks', ARGV[1], ARGV[2])
wake_consumers(place(4, ARGV[3]))
return 1
"""

# ARGV: now, the PLACED values of place(), whose unique key is ARGV[13].
WRITE_UNIQUE = """
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
"""

# ARGV: now, id, token, result ('' for none), ttl in ms, expiry.
ACK = """
return ack(2, ARGV[1])
"""

# ARGV: now, then ACKED values per message (see ack()), any number of
# messages, acknowledged in order. Returns 1 or 0 per message.
ACK_MANY = """
local acked = {}
for a = 2, #ARGV, ACKED do acked[#acked + 1] = ack(a, ARGV[1]) end
return acked
"""

# ARGV: the six of ACK, then the six of CLAIM.
ACK_AND_CLAIM = """
return {ack(2, ARGV[1]), claim(7, false)}
"""

# ARGV: id, token, error, traceback, now, expiry, attempt errors (JSON).
FAIL = """
local id, key = ARGV[1], mkey(ARGV[1])
if not leased(key, ARGV[2]) then return 0 end
redis.call('ZREM', base .. ':running', id)
redis.call('HSET', key, 'error', ARGV[3], 'traceback', ARGV[4], 'attempt_errors', ARGV[7])
finish(id, key, 'failed', ARGV[5], ARGV[6])
wake_waiters(id, 0)
return 1
"""

# ARGV: id, token, eta, error, traceback, now, attempt errors (JSON).
RETRY_LATER = """
local id, key = ARGV[1], mkey(ARGV[1])
if not leased(key, ARGV[2]) then return 0 end
redis.call('ZREM', base .. ':running', id)
unlock(id, key)
redis.call('HDEL', key, 'suspect')
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
"""

# ARGV: id, token, id, token, ...
RELEASE = """
local released = 0
for i = 1, #ARGV, 2 do
  local id, key = ARGV[i], mkey(ARGV[i])
  if leased(key, ARGV[i + 1]) then
    redis.call('ZREM', base .. ':running', id)
    unlock(id, key)
    bump(key, -1)
    redis.call('HSET', key, 'state', 'queued', 'lease_token', '', 'lease_expires_at', '')
    redis.call('ZADD', base .. ':ready', score(key), id)
    released = released + 1
  end
end
wake_consumers(released)
return released
"""

# ARGV: lease expiry, id, token, id, token, ...
EXTEND = """
local extended = 0
for i = 2, #ARGV, 2 do
  local id, key = ARGV[i], mkey(ARGV[i])
  if leased(key, ARGV[i + 1]) then
    redis.call('HSET', key, 'lease_expires_at', ARGV[1])
    redis.call('ZADD', base .. ':running', ARGV[1], id)
    extended = extended + 1
  end
end
return extended
"""

# ARGV: now, failed expiry.
PROMOTE_DUE = """
local ids = redis.call('ZRANGEBYSCORE', base .. ':scheduled', '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, id in ipairs(ids) do
  redis.call('ZREM', base .. ':scheduled', id)
  local key = readable(id, ARGV[1], ARGV[2])
  if key then
    redis.call('HSET', key, 'state', 'queued')
    redis.call('ZADD', base .. ':ready', score(key), id)
  end
end
wake_consumers(#ids)
return #ids
"""

# ARGV: now, failed expiry, reason.
RECLAIM_EXPIRED = """
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
"""

# ARGV: now.
PURGE_EXPIRED = """
local ids = redis.call('ZRANGEBYSCORE', base .. ':expiry', '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)
for _, id in ipairs(ids) do
  redis.call('DEL', mkey(id), base .. ':w:' .. id)
  for _, state in ipairs({'done', 'failed', 'cancelled', 'expiry'}) do
    redis.call('ZREM', base .. ':' .. state, id)
  end
end
return #ids
"""

# ARGV: id, now.
RETRY = """
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
"""

# ARGV: id, now, expiry.
CANCEL = """
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
"""

# ARGV: id.
DELETE = """
local id = ARGV[1]
if redis.call('TYPE', mkey(id))['ok'] == 'hash' then
  release_unique(id, mkey(id))
  unlock(id, mkey(id))
end
local removed = redis.call('DEL', mkey(id))
redis.call('DEL', base .. ':w:' .. id)
for _, state in ipairs({'ready', 'scheduled', 'running', 'done', 'failed', 'cancelled', 'expiry'}) do
  removed = removed + redis.call('ZREM', base .. ':' .. state, id)
end
return removed > 0 and 1 or 0
"""

# ARGV: state structure name.
PURGE = """
local set = base .. ':' .. ARGV[1]
local purged = 0
while true do
  local ids = redis.call('ZRANGE', set, 0, 499)
  if #ids == 0 then return purged end
  for _, id in ipairs(ids) do
    if redis.call('TYPE', mkey(id))['ok'] == 'hash' then
      release_unique(id, mkey(id))
      unlock(id, mkey(id))
    end
    redis.call('DEL', mkey(id), base .. ':w:' .. id)
    redis.call('ZREM', set, id)
    redis.call('ZREM', base .. ':expiry', id)
  end
  purged = purged + #ids
end
"""

SCRIPTS = {
    name.lower(): COMMON + body
    for name, body in {
        "CLAIM": CLAIM,
        "CLAIM_SUSPECT": CLAIM_SUSPECT,
        "ACK_AND_CLAIM": ACK_AND_CLAIM,
        "WRITE": WRITE,
        "WRITE_TICK": WRITE_TICK,
        "WRITE_UNIQUE": WRITE_UNIQUE,
        "ACK": ACK,
        "ACK_MANY": ACK_MANY,
        "FAIL": FAIL,
        "RETRY_LATER": RETRY_LATER,
        "RELEASE": RELEASE,
        "EXTEND": EXTEND,
        "PROMOTE_DUE": PROMOTE_DUE,
        "RECLAIM_EXPIRED": RECLAIM_EXPIRED,
        "PURGE_EXPIRED": PURGE_EXPIRED,
        "RETRY": RETRY,
        "CANCEL": CANCEL,
        "DELETE": DELETE,
        "PURGE": PURGE,
    }.items()
}
