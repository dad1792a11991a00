-- Refreshes games without reading them into C++ (Backend::refresh_blind; what may be done so is
-- the rulebook's, cpp/src/lifecycle.cpp applies_blind): each refresh, on its own and only where
-- its guards hold, every key's type checked before its first write. Generic: the field names,
-- and which sorted set each state's games are in, come from C++.
-- KEYS: every key the refreshes name; refreshes refer to keys by index.
-- ARGV[1] the time in ms ('' = this server's TIME); ARGV[2..7] the record's fields: server,
-- state, revision, last seq, updated at, set score; ARGV[8] the number n of states, then n
-- pairs (state text, index of its sorted set's key); then per refresh: record key index, tomb
-- key index, member (the game id), server id, seq ('' = none).
-- Returns the time used, then two items per refresh: 1, state: refreshed; 0, tomb text or '':
-- no record; 2, state: the record names another server; 3, '<key> <what it holds>': a key
-- holds another type (nothing of that refresh written).
local now = ARGV[1]
if now == '' then
  local t = redis.call('TIME')
  now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
local f_server, f_state, f_rev, f_seq, f_updated, f_score = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local set_of = {}
local nstates = tonumber(ARGV[8])
for i = 0, nstates - 1 do
  set_of[ARGV[9 + 2 * i]] = KEYS[tonumber(ARGV[10 + 2 * i])]
end

local types = {}
local function type_of(key)
  if not types[key] then types[key] = redis.call('TYPE', key).ok end
  return types[key]
end

-- A flat reply (no table per refresh): for each, a code and a text.
local out = {tonumber(now)}
local at = 9 + 2 * nstates
while at <= #ARGV do
  local rec, tomb = KEYS[tonumber(ARGV[at])], KEYS[tonumber(ARGV[at + 1])]
  local member, server, seq = ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
  at = at + 5
  local code, text = 1, nil
  -- One read: a record key of another type fails HMGET (caught), a missing one reads nils.
  local ok, r = pcall(redis.call, 'HMGET', rec, f_server, f_state, f_rev, f_seq)
  if not ok then
    code, text = 3, rec .. ' ' .. type_of(rec)
  elseif not r[2] then
    if r[1] or r[3] then
      code, text = 3, rec .. ' hash without a live state'
    else
      local tt = type_of(tomb)
      if tt ~= 'none' and tt ~= 'string' then
        code, text = 3, tomb .. ' ' .. tt
      else
        code, text = 0, redis.call('GET', tomb) or ''
      end
    end
  elseif r[1] ~= server then
    code, text = 2, r[2]
  else
    local set = set_of[r[2]]
    local st = set and type_of(set)
    if not set then
      code, text = 3, rec .. ' hash without a live state'
    elseif st ~= 'none' and st ~= 'zset' then
      code, text = 3, set .. ' ' .. st
    else
      redis.call('ZADD', set, 'XX', now, member)
      local rev = (tonumber(r[3]) or 1) + 1
      if seq ~= '' and tonumber(seq) > (tonumber(r[4]) or 0) then
        redis.call('HSET', rec, f_updated, now, f_score, now, f_rev, rev, f_seq, seq)
      else
        redis.call('HSET', rec, f_updated, now, f_score, now, f_rev, rev)
      end
      text = r[2]
    end
  end
  out[#out + 1] = code
  out[#out + 1] = text
end
return out
