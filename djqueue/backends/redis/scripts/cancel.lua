-- ARGV: id, now, expiry.
return cancel_message(ARGV[1], ARGV[2], ARGV[3])
