-- ARGV: limit, lease expiry, lease token, worker, now, failed expiry.
return claim(1, false)
