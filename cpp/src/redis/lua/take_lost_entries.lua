-- Entries of stream KEYS[1] removed (trimmed) before consumer group ARGV[1] read them,
-- reported once: the group's read counter (entries-read) is moved past them, so the next call
-- by any consumer of the group does not count them again, and XINFO's lag is right again
-- (after XREADGROUP jumps over trimmed entries Redis counts one read per delivered entry, so
-- without this the lag stays too high forever; Redis 8 moves the counter past them itself at
-- that read, after which nothing tells they were lost, so every read of new entries runs this
-- first, in the same MULTI: redis_streams.cpp). Needs Redis >= 7.0 (entries-added,
-- entries-read). Exact while nobody XDELs entries the group has not read yet.
-- Returns {lost, exact, pending, lag}: exact 0 when the count cannot be known now (an older
-- Redis, or a read counter Redis invalidated after XDEL); lag -1 when Redis cannot tell.
-- Uses field() and compare() from stream_helpers.lua, sent in front of this script.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('NOGROUP no stream ' .. KEYS[1])
end
local stream = redis.call('XINFO', 'STREAM', KEYS[1])
local group = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  if field(g, 'name') == ARGV[1] then group = g end
end
if not group then
  return redis.error_reply('NOGROUP no consumer group ' .. ARGV[1] .. ' on ' .. KEYS[1])
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
redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], last_read, 'ENTRIESREAD', read + lost)
return {lost, 1, pending, added - read - lost}
