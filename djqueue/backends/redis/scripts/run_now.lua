-- ARGV: id, now.
return run_now_message(ARGV[1], ARGV[2])
