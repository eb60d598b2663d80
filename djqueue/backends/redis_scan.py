# ruff: noqa: E501 - Lua source lines
"""Bounded scans through the messages of a state of a ``RedisQueue``.

Redis cannot filter a sorted set by the fields of the hashes its members
name, so a filter examines messages one by one, in a script. One call
examines at most :data:`~djqueue.backends.base.INSPECT_SCAN_LIMIT` messages
and returns a cursor, the score and id of the last message it examined, from
which the next call goes on. The cursor names a message, not a position:
messages that leave the state or join it ahead of the cursor (claims,
acknowledgements, expiry) make the scan neither skip nor repeat the others.

A match is a list of conditions on hash fields (today: ``command`` equals a
name); a search on other fields adds conditions, not another scan.
"""

from __future__ import annotations

from ..inspection import MessageScan
from .redis_hash import text

# ARGV: state set, '1' for newest first, cursor score ('' from the start),
# cursor id, matches to skip, matches wanted, scan limit, then pairs of
# field and value that a match has.
SCAN_IDS = """
local set, desc = base .. ':' .. ARGV[1], ARGV[2] == '1'
local after_score, after_id = tonumber(ARGV[3]), ARGV[4]
local skip, limit, budget = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local fields, wanted = {}, {}
for i = 8, #ARGV, 2 do fields[#fields + 1] = ARGV[i]; wanted[#wanted + 1] = ARGV[i + 1] end
local function matches(id)
  if #fields == 0 then return true end
  local values = redis.pcall('HMGET', mkey(id), unpack(fields))
  if type(values) ~= 'table' then return false end
  for i = 1, #fields do if values[i] ~= wanted[i] then return false end end
  return true
end
local start, fallback = 0, false
if after_score then
  local rank
  if desc then rank = redis.call('ZREVRANK', set, after_id) else rank = redis.call('ZRANK', set, after_id) end
  if rank then start = rank + 1
  else
    -- The cursor's message left the set: go on from its score, passing over
    -- the messages of that score the previous page examined.
    fallback = true
    if desc then start = redis.call('ZCOUNT', set, '(' .. ARGV[3], '+inf')
    else start = redis.call('ZCOUNT', set, '-inf', '(' .. ARGV[3]) end
  end
end
local function seen(id, score)
  if not fallback or tonumber(score) ~= after_score then return false end
  if desc then return id > after_id end
  return id < after_id
end
local found, examined, last_score, last_id, at_end = {}, 0, '', '', 0
while #found < limit * 2 and examined < budget do
  local stop = start + math.min(499, budget - examined - 1)
  local rows
  if desc then rows = redis.call('ZREVRANGE', set, start, stop, 'WITHSCORES')
  else rows = redis.call('ZRANGE', set, start, stop, 'WITHSCORES') end
  for i = 1, #rows, 2 do
    local id, score = rows[i], rows[i + 1]
    examined, last_id, last_score = examined + 1, id, score
    if not seen(id, score) and matches(id) then
      if skip > 0 then skip = skip - 1
      else found[#found + 1] = id; found[#found + 1] = score end
      if #found == limit * 2 then break end
    end
  end
  if #rows < (stop - start + 1) * 2 and #found < limit * 2 then at_end = 1; break end
  start = stop + 1
end
return {found, last_score, last_id, at_end, examined}
"""


class RedisScan:
    """Mixed into ``RedisQueue``; relies on its ``_run`` and ``_load``."""

    def _scan_ids(self, state_set, newest_first, after, skip, limit, match):
        """Run one bounded scan: return the ``(id, score)`` pairs found, the
        ``(score, id)`` of the last message examined (``None`` at the end of
        the set) and how many were examined."""
        from .base import INSPECT_SCAN_LIMIT

        score, member = after or ("", "")
        conditions = [value for pair in match.items() for value in pair]
        found, last_score, last_id, at_end, examined = self._run(
            "scan_ids", state_set, "1" if newest_first else "0", score, member,
            skip, limit, INSPECT_SCAN_LIMIT, *conditions,
        )  # fmt: skip
        pairs = [(text(found[i]), text(found[i + 1])) for i in range(0, len(found), 2)]
        last = None if at_end else (text(last_score), text(last_id))
        return pairs, last, examined

    def _scan_messages(self, state_set, newest_first, cursor, limit, match):
        """One page of a scan (see :meth:`BaseQueue.scan_messages`): one more
        match than the page is looked for, to know whether to go on."""
        pairs, last, examined = self._scan_ids(
            state_set, newest_first, _parse_cursor(cursor), 0, limit + 1, match
        )
        if len(pairs) > limit:
            pairs = pairs[:limit]
            message_id, score = pairs[-1]
            last = (score, message_id)
        next_cursor = "" if last is None else f"{last[0]}:{last[1]}"
        messages = self._load([message_id for message_id, _ in pairs])
        return MessageScan(messages, next_cursor, examined)


def _parse_cursor(cursor: str) -> tuple[str, str] | None:
    if not cursor:
        return None
    score, _, member = cursor.partition(":")
    try:
        float(score)
    except ValueError:
        member = ""
    if not member:
        raise ValueError(f"{cursor!r} is not a cursor of this queue's scans.")
    return score, member
