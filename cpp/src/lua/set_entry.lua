-- Read only. Which set a game is in and its score there: {set index (0 pending, 1 lobby,
-- 2 active), score}, or an empty array when it is in none.
-- KEYS[1] pending, KEYS[2] lobby, KEYS[3] active; ARGV[1] game id
for i = 1, 3 do
  local score = redis.call('ZSCORE', KEYS[i], ARGV[1])
  if score then return {i - 1, score} end
end
return {}
