-- Inserts a new game in state created and puts it in the pending set, atomically.
-- KEYS[1] game hash, KEYS[2] pending zset, KEYS[3] tombstone
-- ARGV: id, creator_id, capacity, server_id, players (comma-joined), metadata (JSON),
--       created_at, updated_at, last_seq, score (ms)
-- Fails with an error reply starting GAMEEXISTS, before any write, if the id is live or
-- tombstoned.
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.error_reply('GAMEEXISTS game id is already taken')
end
redis.call('HSET', KEYS[1],
  'id', ARGV[1], 'state', 'created', 'creator_id', ARGV[2], 'capacity', ARGV[3],
  'server_id', ARGV[4], 'players', ARGV[5], 'metadata', ARGV[6],
  'created_at', ARGV[7], 'updated_at', ARGV[8], 'last_seq', ARGV[9])
redis.call('ZADD', KEYS[2], ARGV[10], ARGV[1])
return 1
