-- ARGV: now, then PLACED values per message (see place()), any number of
-- messages: write() and write_many() both. Returns how many became ready.
local ready = 0
for a = 2, #ARGV, PLACED do ready = ready + place(a, ARGV[1]) end
wake_consumers(ready)
return ready
