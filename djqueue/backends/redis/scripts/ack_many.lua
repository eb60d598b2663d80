-- ARGV: now, then ACKED values per message (see ack()), any number of
-- messages, acknowledged in order. Returns 1 or 0 per message.
local acked = {}
for a = 2, #ARGV, ACKED do acked[#acked + 1] = ack(a, ARGV[1]) end
return acked
