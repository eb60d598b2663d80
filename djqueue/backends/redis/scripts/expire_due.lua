-- ARGV: now, most messages to answer, expiry of a finished message.
-- Answer the ids of messages that expired unclaimed: first those the
-- claims moved (the :expired_news list), then those of the deadlines set
-- whose deadline is at or before now and that were never claimed, moved
-- here. The set forgets every id it gives, started or gone ones too.
local now, limit, retained = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local news = base .. ':expired_news'
local expired = redis.call('LRANGE', news, 0, limit - 1)
if #expired > 0 then redis.call('LTRIM', news, #expired, -1) end
if #expired >= limit then return expired end
local due = redis.call('ZRANGEBYSCORE', base .. ':deadlines', '-inf', now, 'LIMIT', 0, limit - #expired)
for _, id in ipairs(due) do
  redis.call('ZREM', base .. ':deadlines', id)
  if expire(id, mkey(id), now, retained) == 1 then expired[#expired + 1] = id end
end
return expired
