-- Trims stream KEYS[1] to its newest ARGV[1] entries (XTRIM MAXLEN) only when no consumer group
-- reads it: a stream some group reads is trimmed by what the groups acknowledged instead
-- (trim_acknowledged.lua), never here. Checked and trimmed in one step, so a group created
-- meanwhile never misses an entry. Returns the number of entries removed.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if #redis.call('XINFO', 'GROUPS', KEYS[1]) > 0 then return 0 end
return redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[1])
