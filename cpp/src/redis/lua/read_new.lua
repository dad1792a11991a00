-- Reads up to ARGV[3] new entries of stream KEYS[1] for consumer ARGV[2] of group ARGV[1]
-- (XREADGROUP ... >, never blocking), counting first the entries trimmed before the group read
-- them: Redis 8 moves a group's read counter past trimmed entries when a read jumps over them
-- (redis/redis#13958), after which nothing can tell they were lost, so the count must be taken
-- in the same atomic step as the read. Returns {lost, exact, reply of XREADGROUP}, or the
-- NOGROUP error of take_lost(). Uses take_lost() from stream_helpers.lua.

local found = take_lost(KEYS[1], ARGV[1])
if found.err then return found end
local read = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3],
                        'STREAMS', KEYS[1], '>')
return {found[1], found[2], read}
