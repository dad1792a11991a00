-- Removes up to one batch of games whose score in one set is below the cutoff, leaving a
-- "reaped" tombstone for each; returns their records (HGETALL arrays), oldest first.
-- KEYS[1] the set to reap, KEYS[2] open index
-- ARGV[1] cutoff (ms, exclusive), ARGV[2] batch size, ARGV[3] game key prefix,
-- ARGV[4] tombstone key prefix, ARGV[5] tombstone ttl (ms)
-- Game and tombstone keys are the store's own prefix (same hash tag) plus ids read from the
-- set, which were validated when the games were created.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local game_key = ARGV[3] .. id
  out[#out + 1] = redis.call('HGETALL', game_key)
  redis.call('DEL', game_key)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('SET', ARGV[4] .. id, 'reaped', 'PX', ARGV[5])
end
return out
