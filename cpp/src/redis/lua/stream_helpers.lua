-- Shared by the stream scripts: redis_streams.cpp sends this text in front of each of them,
-- so every helper is written once. Defines functions only: runs nothing until one is called.

-- The value of `name` in a flat {name, value, ...} reply (XINFO), or nil.
local function field(reply, name)
  for i = 1, #reply, 2 do
    if reply[i] == name then return reply[i + 1] end
  end
  return nil
end

-- Compares stream ids "<ms>-<seq>" (decimal numbers of any length, beyond 2^53): -1, 0 or 1.
local function compare(a, b)
  local am, as = string.match(a, '^(%d+)%-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)%-(%d+)$')
  for _, pair in ipairs({{am, bm}, {as, bs}}) do
    local x, y = pair[1], pair[2]
    if #x ~= #y then return #x < #y and -1 or 1 end
    if x ~= y then return x < y and -1 or 1 end
  end
  return 0
end

-- Entries of stream `stream_key` removed (trimmed) before consumer group `group_name` read
-- them, reported once: the group's read counter (entries-read) is moved past them, so the next
-- call by any consumer of the group does not count them again, and XINFO's lag is right again
-- (after XREADGROUP jumps over trimmed entries Redis 7 counts one read per delivered entry, so
-- without this the lag stays too high forever; Redis 8 moves the counter past them itself,
-- which is why read_new.lua calls this before every read of new entries). Needs Redis >= 7.0
-- (entries-added, entries-read). Exact while nobody XDELs entries the group has not read yet.
-- Returns {lost, exact, pending, lag}: exact 0 when the count cannot be known now (an older
-- Redis, or a read counter Redis invalidated after XDEL); lag -1 when Redis cannot tell; or an
-- error reply (NOGROUP) when the stream or the group is missing.
local function take_lost(stream_key, group_name)
  if redis.call('EXISTS', stream_key) == 0 then
    return redis.error_reply('NOGROUP no stream ' .. stream_key)
  end
  local stream = redis.call('XINFO', 'STREAM', stream_key)
  local group = nil
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream_key)) do
    if field(g, 'name') == group_name then group = g end
  end
  if not group then
    return redis.error_reply('NOGROUP no consumer group ' .. group_name .. ' on ' .. stream_key)
  end

  local pending = field(group, 'pending')
  local lag = field(group, 'lag') or -1
  local added = field(stream, 'entries-added')
  local read = field(group, 'entries-read')
  if not added or not read then return {0, 0, pending, lag} end

  local length = field(stream, 'length')
  local last_read = field(group, 'last-delivered-id')
  local first = field(stream, 'first-entry')
  local deleted = field(stream, 'max-deleted-entry-id')
  local lost
  if length == 0 or compare(last_read, field(stream, 'last-generated-id')) >= 0 then
    -- Read up to the newest entry, or nothing is left: whatever it did not read is gone.
    lost = added - read
  elseif first and compare(last_read, first[1]) < 0 then
    -- Everything before the first entry is gone; exactly added - length of them, unless an
    -- XDEL tombstone lies at or after the first entry.
    if deleted ~= '0-0' and compare(deleted, first[1]) >= 0 then return {0, 0, pending, lag} end
    lost = added - length - read
  else
    -- Part way through the stream: counted once it reaches either end.
    return {0, 1, pending, lag}
  end
  if lost <= 0 then return {0, 1, pending, lag} end
  redis.call('XGROUP', 'SETID', stream_key, group_name, last_read, 'ENTRIESREAD', read + lost)
  return {lost, 1, pending, added - read - lost}
end
