-- The ready set is ordered by priority, then eta: the head of each priority
-- band is that band's longest-waiting message. Bands are BAND apart.
local ready, floor, oldest, oldest_text = base .. ':ready', '-inf', nil, false
for _ = 1, 202 do
  local head = redis.call('ZRANGEBYSCORE', ready, floor, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #head == 0 then break end
  local eta = redis.pcall('HGET', mkey(head[1]), 'eta')
  local value = type(eta) == 'string' and tonumber(eta)
  if value and (oldest == nil or value < oldest) then oldest, oldest_text = value, eta end
  floor = tostring((math.floor(tonumber(head[2]) / BAND) + 1) * BAND)
end
return oldest_text
