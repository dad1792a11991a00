-- Applies write plans, each atomically and only if every guard of its game holds. Every guard
-- of every plan (the namespace config, revisions, seats, the type of each key a plan writes) is
-- checked before the first write, so a plan that cannot apply writes nothing. Generic: no rule
-- of the game lives here; C++ decided what to write (cpp/src/store.cpp, cpp/src/lifecycle.cpp).
-- KEYS: every key the plans name; plans refer to keys by index.
-- ARGV[1] number of plans, followed by '!' when they apply all or none (a failed guard of one
-- writes none of them; the plans whose guards held then reply 2); ARGV[2] the config key's index ('0': no config guard); ARGV[3] the
-- filter_keys the plans were computed with: '-' none declared, '=' .. the stored text.
-- Then each plan: record key index, tombstone key index, member (the game id), expected
-- revision ('0': no record and no tombstone; '-1': no record), seat key index ('0': no seat
-- claim), the claim's expiry and time (ms), the number of ARGV items of its ops, then its ops:
--   'H' n f1 v1 .. fn vn    HSET fields of the record
--   'D' n f1 .. fn          HDEL fields of the record
--   'X'                     DEL the record
--   'T' text ttl_ms         SET the tombstone
--   'Z' key score           ZADD the member to KEYS[key]
--   'R' key                 ZREM the member from KEYS[key]
--   'A' key n f1 v1 ..      XADD KEYS[key] * fields
--   'S' key                 DEL the seat KEYS[key] if it is this member's
-- A seat (string) is '<game id> <expires_at>'; a claim sets it, expiring ttl + 1 s later.
-- Returns one reply per plan: 1 written; 0 revision guard failed; {'seat', game, expires_at}
-- the player holds a live seat in another game; {'type', key, type} a key holds another
-- type. Or the error 'CONFIG' when the namespace's config is not the one the plans assumed.
local count, together = string.match(ARGV[1], '^(%d+)(!?)$')
local nplans = tonumber(count)
if ARGV[2] ~= '0' then
  local ok, stored = pcall(redis.call, 'HGET', KEYS[tonumber(ARGV[2])], 'filter_keys')
  if not ok then return redis.error_reply('ERR commit_games: the namespace config key is not a hash') end
  local now = (stored and stored ~= '') and ('=' .. stored) or '-'
  if now ~= ARGV[3] then return redis.error_reply('CONFIG the namespace config changed') end
end

local plans = {}
local at = 4
for p = 1, nplans do
  local plan = {rec = KEYS[tonumber(ARGV[at])], tomb = KEYS[tonumber(ARGV[at + 1])],
                member = ARGV[at + 2], expect = ARGV[at + 3], seat = tonumber(ARGV[at + 4]),
                seat_expires = ARGV[at + 5], seat_now = tonumber(ARGV[at + 6]), first = at + 8}
  plan.last = at + 7 + tonumber(ARGV[at + 7])
  at = plan.last + 1
  plans[p] = plan
end

-- The type each written key must have (or 'none'), by op.
local want = {Z = 'zset', R = 'zset', A = 'stream', S = 'string'}
local width = {X = 1, T = 3, Z = 3, R = 2, S = 2}
local types = {}
local function type_of(key)
  if not types[key] then types[key] = redis.call('TYPE', key).ok end
  return types[key]
end

-- nil when the plan's keys fit their ops, else {'type', key, type}.
local function wrong_type(plan)
  local i = plan.first
  while i <= plan.last do
    local op = ARGV[i]
    if want[op] then
      local key = KEYS[tonumber(ARGV[i + 1])]
      local t = type_of(key)
      if t ~= 'none' and t ~= want[op] then return {'type', key, t} end
    end
    if op == 'H' or op == 'D' then
      local n = tonumber(ARGV[i + 1])
      i = i + 2 + (op == 'H' and 2 * n or n)
    elseif op == 'A' then
      i = i + 3 + 2 * tonumber(ARGV[i + 2])
    else
      i = i + width[op]
    end
  end
  return nil
end

local function revision_holds(plan)
  if plan.expect == '-1' then return redis.call('EXISTS', plan.rec) == 0 end
  if plan.expect == '0' then
    return redis.call('EXISTS', plan.rec) == 0 and redis.call('EXISTS', plan.tomb) == 0
  end
  local rev = redis.call('HGET', plan.rec, 'rev')
  if not rev and redis.call('EXISTS', plan.rec) == 1 then rev = '1' end  -- written before revisions
  return rev == plan.expect
end

-- 1 when every guard holds, else the plan's reply.
local function guard(plan)
  local rt = type_of(plan.rec)
  if rt ~= 'none' and rt ~= 'hash' then return {'type', plan.rec, rt} end
  local bad = wrong_type(plan)
  if bad then return bad end
  if not revision_holds(plan) then return 0 end
  if plan.seat ~= 0 then
    local key = KEYS[plan.seat]
    local st = type_of(key)
    if st ~= 'none' and st ~= 'string' then return {'type', key, st} end
    local held = redis.call('GET', key)
    if held then
      local game, expires = string.match(held, '^(%S+) (%-?%d+)$')
      if game and game ~= plan.member and tonumber(expires) > plan.seat_now then
        return {'seat', game, expires}
      end
    end
  end
  return 1
end

local result = {}
local all_held = true
for p, plan in ipairs(plans) do
  result[p] = guard(plan)
  if result[p] ~= 1 then all_held = false end
end
if together == '!' and not all_held then
  for p = 1, nplans do
    if result[p] == 1 then result[p] = 2 end
  end
  return result
end

for p, plan in ipairs(plans) do
  if result[p] == 1 then
    local i = plan.first
    while i <= plan.last do
      local op = ARGV[i]
      if op == 'H' or op == 'D' then
        local n = tonumber(ARGV[i + 1])
        local w = op == 'H' and 2 * n or n
        redis.call(op == 'H' and 'HSET' or 'HDEL', plan.rec, unpack(ARGV, i + 2, i + 1 + w))
        i = i + 2 + w
      elseif op == 'X' then
        redis.call('DEL', plan.rec)
        i = i + 1
      elseif op == 'T' then
        redis.call('SET', plan.tomb, ARGV[i + 1], 'PX', ARGV[i + 2])
        i = i + 3
      elseif op == 'Z' then
        redis.call('ZADD', KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], plan.member)
        i = i + 3
      elseif op == 'R' then
        redis.call('ZREM', KEYS[tonumber(ARGV[i + 1])], plan.member)
        i = i + 2
      elseif op == 'A' then
        local n = tonumber(ARGV[i + 2])
        redis.call('XADD', KEYS[tonumber(ARGV[i + 1])], '*', unpack(ARGV, i + 3, i + 2 + 2 * n))
        i = i + 3 + 2 * n
      elseif op == 'S' then
        local key = KEYS[tonumber(ARGV[i + 1])]
        local held = redis.call('GET', key)
        if held and string.sub(held, 1, #plan.member + 1) == plan.member .. ' ' then
          redis.call('DEL', key)
        end
        i = i + 2
      else
        return redis.error_reply('ERR commit_games: unknown op ' .. tostring(op))
      end
    end
    if plan.seat ~= 0 then
      local ttl = tonumber(plan.seat_expires) - plan.seat_now + 1000
      redis.call('SET', KEYS[plan.seat], plan.member .. ' ' .. plan.seat_expires, 'PX', math.max(ttl, 1))
    end
  end
end
return result
