-- 1 if a suspect message is ready, else 0.
return redis.call('ZCOUNT', base .. ':ready', '-inf', '(' .. SUSPECT_CEILING) > 0 and 1 or 0
