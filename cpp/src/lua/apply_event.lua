-- Applies one event to one game atomically: the lifecycle table of cpp/src/lifecycle.cpp,
-- the roster, the set moves, the open index and the tombstone on game_ended. Every guard is
-- checked before the first write; a refused event writes nothing.
-- KEYS[1] game hash, KEYS[2] pending, KEYS[3] lobby, KEYS[4] active, KEYS[5] open index,
-- KEYS[6] tombstone
-- ARGV[1] game id, ARGV[2] event type, ARGV[3] server id, ARGV[4] "1" if a player id is given,
-- ARGV[5] player id, ARGV[6] seq ("" = none), ARGV[7] now (ms), ARGV[8] tombstone ttl (ms)
-- Returns {status, reason, state} (state "" when there is no live game).
local id, etype, server, has_player, player = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[5]
local seq, now, ttl = ARGV[6], ARGV[7], ARGV[8]

local rec = redis.call('HMGET', KEYS[1], 'state', 'server_id', 'creator_id', 'capacity',
                       'players', 'last_seq')
local state = rec[1]
if not state then
  local tomb = redis.call('GET', KEYS[6])
  if tomb then
    local benign = tomb == 'ended' or etype == 'game_ended'
    local reason = tomb == 'ended' and 'game has ended' or 'game was reaped'
    return {benign and 'duplicate' or 'rejected', reason, ''}
  end
  return {'rejected', 'unknown game', ''}
end

if server ~= rec[2] then return {'rejected', 'wrong server', state} end
-- seq is compared per player for roster events only (field 's:<player>' holds the seq of the
-- latest roster event applied for that player); states order lifecycle events by themselves.
local function player_seq(p)
  local known = redis.call('HGET', KEYS[1], 's:' .. p)
  return known and tonumber(known) or nil
end

-- The table, row = live state, column = event type (mirrors kTable in lifecycle.cpp).
local NOT_AFTER = 'state already reached'
local function adv(target) return {'advance', target} end
local function dup(why) return {'duplicate', why} end
local function rej(why) return {'rejected', why} end
local ROSTER, REFRESH = {'roster'}, {'refresh'}
local TABLE = {
  created = {creator_joined = adv('creator_joined'), player_joined = rej('creator has not joined'),
             player_left = ROSTER, all_players_joined = adv('all_players_joined'),
             game_started = adv('in_progress'), game_ended = adv('ended'), heartbeat = REFRESH},
  creator_joined = {creator_joined = dup(NOT_AFTER), player_joined = ROSTER, player_left = ROSTER,
             all_players_joined = adv('all_players_joined'), game_started = adv('in_progress'),
             game_ended = adv('ended'), heartbeat = REFRESH},
  all_players_joined = {creator_joined = dup(NOT_AFTER), player_joined = ROSTER,
             player_left = ROSTER, all_players_joined = dup(NOT_AFTER),
             game_started = adv('in_progress'), game_ended = adv('ended'), heartbeat = REFRESH},
  in_progress = {creator_joined = dup(NOT_AFTER), player_joined = ROSTER, player_left = ROSTER,
             all_players_joined = dup(NOT_AFTER), game_started = dup(NOT_AFTER),
             game_ended = adv('ended'), heartbeat = REFRESH},
}
local SET_OF = {created = KEYS[2], creator_joined = KEYS[3], all_players_joined = KEYS[3],
                in_progress = KEYS[4]}

local row = TABLE[state]
if not row then return redis.error_reply('ERR corrupt game record: state ' .. tostring(state)) end
local d = row[etype]
if not d then return redis.error_reply('ERR unknown event type') end

local players = {}
for p in string.gmatch(rec[5] or '', '[^,]+') do players[#players + 1] = p end
local function index_of(p)
  for i, q in ipairs(players) do if q == p then return i end end
  return nil
end
local capacity = tonumber(rec[4])

local verdict = d[1]
local new_state = state
local rescore = false
local seq_player = nil  -- the player whose seq this event records, if any
if verdict == 'rejected' or verdict == 'duplicate' then
  return {verdict, d[2], state}
elseif verdict == 'advance' then
  if etype == 'creator_joined' then
    if not has_player or player ~= rec[3] then
      return {'rejected', 'player is not the creator', state}
    end
    local known = player_seq(rec[3])
    local superseded = seq ~= '' and known ~= nil and known >= tonumber(seq)
    if not superseded and not index_of(rec[3]) then players[#players + 1] = rec[3] end
    if seq ~= '' and not superseded then seq_player = rec[3] end
  end
  new_state = d[2]
  rescore = SET_OF[new_state] ~= SET_OF[state]
elseif verdict == 'roster' then
  if not has_player then player = '' end
  if seq ~= '' then
    local known = player_seq(player)
    if known ~= nil and tonumber(seq) <= known then
      return {'duplicate', 'seq already applied', state}
    end
  end
  -- With a seq the event is the newest word on this player and is applied even when the
  -- roster already agrees; without one, a no-op is a duplicate.
  local at = index_of(player)
  local joining = etype == 'player_joined'
  if joining and not at then
    if #players >= capacity then return {'rejected', 'game is full', state} end
    players[#players + 1] = player
  elseif not joining and at then
    table.remove(players, at)
  elseif seq == '' then
    return {'duplicate', joining and 'player already in game' or 'player not in game', state}
  end
  if seq ~= '' then seq_player = player end
else  -- refresh
  rescore = true
end

-- All guards passed: write.
local from = SET_OF[state]
if new_state == 'ended' then
  redis.call('ZREM', from, id)
  redis.call('ZREM', KEYS[5], id)
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[6], 'ended', 'PX', ttl)
  return {'applied', '', 'ended'}
end

local to = SET_OF[new_state]
local score
if rescore then
  redis.call('ZREM', from, id)
  redis.call('ZADD', to, now, id)
  score = now
else
  score = redis.call('ZSCORE', to, id)
end
local fields = {'state', new_state, 'players', table.concat(players, ','), 'updated_at', now}
if seq ~= '' and tonumber(seq) > tonumber(rec[6] or '0') then
  fields[#fields + 1] = 'last_seq'
  fields[#fields + 1] = seq  -- the exact text
end
if seq_player then
  fields[#fields + 1] = 's:' .. seq_player
  fields[#fields + 1] = seq
end
redis.call('HSET', KEYS[1], unpack(fields))
if new_state == 'creator_joined' and #players < capacity then
  redis.call('ZADD', KEYS[5], score, id)
else
  redis.call('ZREM', KEYS[5], id)
end
return {'applied', '', new_state}
