-- ARGV: as CLAIM's, with a limit of 1.
return claim(1, true)
