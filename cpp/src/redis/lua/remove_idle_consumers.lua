-- Removes the consumers of group ARGV[1] on stream KEYS[1] that have nothing pending and have
-- been idle for at least ARGV[2] ms, except ARGV[3] (the caller). Atomic: no consumer can
-- read between the check and its removal, so no pending entry is ever dropped with it.
-- Returns the names removed.
-- Uses field() from stream_helpers.lua, sent in front of this script.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('NOGROUP no stream ' .. KEYS[1])
end
local min_idle = tonumber(ARGV[2])
local removed = {}
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name = field(c, 'name')
  if name ~= ARGV[3] and field(c, 'pending') == 0 and field(c, 'idle') >= min_idle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    removed[#removed + 1] = name
  end
end
return removed
