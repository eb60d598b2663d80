-- ARGV: lease expiry, id, token, id, token, ...
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
