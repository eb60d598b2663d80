-- ARGV: state set, '1' for newest first, cursor score ('' from the start),
-- cursor id, matches to skip, matches wanted, scan limit, the most bytes of
-- text to search, then triples of field, operator and value that a match
-- has: '=' the field equals the value, '~' it contains the value
-- (lowercase) without regard to ASCII case. The scan stops after the
-- message that took the searched text to the bytes' bound.
local set, desc = base .. ':' .. ARGV[1], ARGV[2] == '1'
local after_score, after_id = tonumber(ARGV[3]), ARGV[4]
local skip, limit, budget = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local byte_budget, searched = tonumber(ARGV[8]), 0
local fields, operators, wanted = {}, {}, {}
for i = 9, #ARGV, 3 do
  fields[#fields + 1] = ARGV[i]; operators[#operators + 1] = ARGV[i + 1]
  wanted[#wanted + 1] = ARGV[i + 2]
end
local function matches(id)
  if #fields == 0 then return true end
  local values = redis.pcall('HMGET', mkey(id), unpack(fields))
  if type(values) ~= 'table' then return false end
  for i = 1, #fields do
    local value = values[i]
    if not value then return false end
    if operators[i] == '~' then
      searched = searched + #value
      if not string.find(string.lower(value), wanted[i], 1, true) then return false end
    elseif value ~= wanted[i] then return false end
  end
  return true
end
local start, fallback = 0, false
if after_score then
  local rank
  if desc then rank = redis.call('ZREVRANK', set, after_id) else rank = redis.call('ZRANK', set, after_id) end
  if rank then start = rank + 1
  else
    -- The cursor's message left the set: go on from its score, passing over
    -- the messages of that score the previous page examined.
    fallback = true
    if desc then start = redis.call('ZCOUNT', set, '(' .. ARGV[3], '+inf')
    else start = redis.call('ZCOUNT', set, '-inf', '(' .. ARGV[3]) end
  end
end
local function seen(id, score)
  if not fallback or tonumber(score) ~= after_score then return false end
  if desc then return id > after_id end
  return id < after_id
end
local found, examined, last_score, last_id, at_end = {}, 0, '', '', 0
local spent = false
while #found < limit * 2 and examined < budget and not spent do
  local stop = start + math.min(499, budget - examined - 1)
  local rows
  if desc then rows = redis.call('ZREVRANGE', set, start, stop, 'WITHSCORES')
  else rows = redis.call('ZRANGE', set, start, stop, 'WITHSCORES') end
  for i = 1, #rows, 2 do
    local id, score = rows[i], rows[i + 1]
    examined, last_id, last_score = examined + 1, id, score
    if not seen(id, score) and matches(id) then
      if skip > 0 then skip = skip - 1
      else found[#found + 1] = id; found[#found + 1] = score end
      if #found == limit * 2 then break end
    end
    if searched >= byte_budget then spent = true; break end
  end
  if spent then break end
  if #rows < (stop - start + 1) * 2 and #found < limit * 2 then at_end = 1; break end
  start = stop + 1
end
return {found, last_score, last_id, at_end, examined}
