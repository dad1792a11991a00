-- Read only. The records of the oldest open games (lobby, creator_joined, free seat), in
-- open-index order, in one atomic read.
-- KEYS[1] open index; ARGV[1] limit (> 0), ARGV[2] game key prefix
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local rec = redis.call('HGETALL', ARGV[2] .. id)
  if #rec > 0 then out[#out + 1] = rec end
end
return out
