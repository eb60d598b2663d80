-- ARGV: now.
local ids = redis.call('ZRANGEBYSCORE', base .. ':consumers:alive', '(' .. ARGV[1], '+inf')
if #ids == 0 then return {} end
return redis.call('HMGET', base .. ':consumers', unpack(ids))
