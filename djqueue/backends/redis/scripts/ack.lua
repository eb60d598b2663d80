-- ARGV: now, id, token, result ('' for none), ttl in ms, expiry.
return ack(2, ARGV[1])
