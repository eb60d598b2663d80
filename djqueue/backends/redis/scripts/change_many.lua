-- ARGV: action (retry, cancel, run_now or delete), the state a message must
-- be in (its hash's state field), now, the expiry of a cancelled message,
-- then the ids. Returns how many changed.
local action, wanted, now, expiry = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local changed = 0
for i = 5, #ARGV do
  local id = ARGV[i]
  if redis.pcall('HGET', mkey(id), 'state') == wanted then
    if action == 'retry' then changed = changed + retry_message(id, now)
    elseif action == 'cancel' then changed = changed + cancel_message(id, now, expiry)
    elseif action == 'run_now' then changed = changed + run_now_message(id, now)
    elseif action == 'delete' then changed = changed + delete_message(id)
    end
  end
end
return changed
