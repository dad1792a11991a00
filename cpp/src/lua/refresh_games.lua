-- Refreshes games without reading them into C++ (Backend::refresh_blind; what may be done so is
-- the rulebook's, cpp/src/lifecycle.cpp applies_blind): each refresh, on its own and only where
-- its guards hold, every key's type checked before its first write. Generic: the field names,
-- and which sorted set each state's games are in, come from C++.
-- KEYS: the sorted set of each state (below). The record and tombstone of a game are the key
-- prefixes ARGV[2] and ARGV[3] (with the sets' hash tag) followed by its id.
-- ARGV[1] the time in ms ('' = this server's TIME); ARGV[2] record key prefix; ARGV[3] tomb key
-- prefix; ARGV[4..9] the record's fields: server, state, revision, last seq, updated at, set
-- score; ARGV[10] the number n (at most 9) of states, then n pairs (state text, index of its
-- sorted set in KEYS); then three items per refresh: member (the game id), server id, seq
-- ('' = none).
-- Returns {time used, codes, i1, text1, i2, text2, ...}: `codes` has one character per
-- refresh: '1'..'9' refreshed, its record in that state (of the n); 'A'..'I' the record, in
-- that state, names another server (nothing written); 'n' no record and no tombstone; 't' no
-- record, its tombstone's text follows as (refresh number, text); 'x' a key holds another
-- type (nothing of that refresh written), '<key> <what it holds>' follows the same way.
local now = ARGV[1]
if now == '' then
  local t = redis.call('TIME')
  now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
local rec_prefix, tomb_prefix = ARGV[2], ARGV[3]
local f_server, f_state, f_rev, f_seq, f_updated, f_score = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local nstates = tonumber(ARGV[10])
local set_of, code_of = {}, {}
for i = 1, nstates do
  local state = ARGV[9 + 2 * i]
  set_of[state] = KEYS[tonumber(ARGV[10 + 2 * i])]
  code_of[state] = i
end

local types = {}
local function type_of(key)
  if not types[key] then types[key] = redis.call('TYPE', key).ok end
  return types[key]
end

local codes, extra = {}, {}
local function refused(n, key, what)
  codes[n] = 'x'
  extra[#extra + 1] = n
  extra[#extra + 1] = key .. ' ' .. what
end

local n = 0
for at = 11 + 2 * nstates, #ARGV, 3 do
  n = n + 1
  local member, server, seq = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  local rec = rec_prefix .. member
  -- One read: a record key of another type gives an error reply, a missing one nils.
  local r = redis.pcall('HMGET', rec, f_server, f_state, f_rev, f_seq)
  if r.err then
    refused(n, rec, type_of(rec))
  elseif not r[2] then
    if r[1] or r[3] then
      refused(n, rec, 'hash without a live state')
    else
      local tomb = tomb_prefix .. member
      local held = redis.pcall('GET', tomb)
      if type(held) == 'table' and held.err then
        refused(n, tomb, type_of(tomb))
      elseif held then
        codes[n] = 't'
        extra[#extra + 1] = n
        extra[#extra + 1] = held
      else
        codes[n] = 'n'
      end
    end
  else
    local code, set = code_of[r[2]], set_of[r[2]]
    if not code then
      refused(n, rec, 'hash without a live state')
    elseif r[1] ~= server then
      codes[n] = string.char(64 + code)  -- 'A'..
    else
      local st = type_of(set)
      if st ~= 'none' and st ~= 'zset' then
        refused(n, set, st)
      else
        redis.call('ZADD', set, 'XX', now, member)
        local rev = (tonumber(r[3]) or 1) + 1
        if seq ~= '' and tonumber(seq) > (tonumber(r[4]) or 0) then
          redis.call('HSET', rec, f_updated, now, f_score, now, f_rev, rev, f_seq, seq)
        else
          redis.call('HSET', rec, f_updated, now, f_score, now, f_rev, rev)
        end
        codes[n] = string.char(48 + code)  -- '1'..
      end
    end
  end
end
local out = {tonumber(now), table.concat(codes)}
for i = 1, #extra do out[#out + 1] = extra[i] end
return out
