-- ARGV: id.
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
