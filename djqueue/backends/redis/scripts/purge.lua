-- ARGV: state structure name.
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
    redis.call('ZREM', base .. ':deadlines', id)
  end
  purged = purged + #ids
end
