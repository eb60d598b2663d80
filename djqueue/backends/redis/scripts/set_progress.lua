-- ARGV: id, token, progress (JSON text). 1 if stored, 0 if the lease was lost.
if not leased(mkey(ARGV[1]), ARGV[2]) then return 0 end
redis.call('HSET', mkey(ARGV[1]), 'progress', ARGV[3])
return 1
