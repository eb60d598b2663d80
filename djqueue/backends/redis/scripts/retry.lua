-- ARGV: id, now.
return retry_message(ARGV[1], ARGV[2])
