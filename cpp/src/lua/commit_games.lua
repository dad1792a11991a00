-- Applies write plans, each atomically and only if its game's revision is still the one the
-- plan was computed from. Every guard is checked before the first write. Generic: no rule of
-- the game lives here; C++ decided what to write (cpp/src/store.cpp, cpp/src/lifecycle.cpp).
-- KEYS: every key the plans name; plans refer to keys by index.
-- ARGV[1] number of plans; then each plan: record key index, tombstone key index, member (the
-- game id), expected revision ('0': no record and no tombstone; '-1': no record), the number
-- of ARGV items of its ops, then its ops:
--   'H' n f1 v1 .. fn vn    HSET fields of the record
--   'D' n f1 .. fn          HDEL fields of the record
--   'X'                     DEL the record
--   'T' text ttl_ms         SET the tombstone
--   'Z' key score           ZADD the member to KEYS[key]
--   'R' key                 ZREM the member from KEYS[key]
--   'A' key n f1 v1 ..      XADD KEYS[key] * fields
-- Returns one integer per plan: 1 written, 0 guard failed (nothing written for that plan).
local plans = {}
local at = 2
for p = 1, tonumber(ARGV[1]) do
  local plan = {rec = KEYS[tonumber(ARGV[at])], tomb = KEYS[tonumber(ARGV[at + 1])],
                member = ARGV[at + 2], expect = ARGV[at + 3], first = at + 5}
  plan.last = at + 4 + tonumber(ARGV[at + 4])
  at = plan.last + 1
  plans[p] = plan
end

local function guard_holds(plan)
  if plan.expect == '-1' then return redis.call('EXISTS', plan.rec) == 0 end
  if plan.expect == '0' then
    return redis.call('EXISTS', plan.rec) == 0 and redis.call('EXISTS', plan.tomb) == 0
  end
  local rev = redis.call('HGET', plan.rec, 'rev')
  if not rev and redis.call('EXISTS', plan.rec) == 1 then rev = '1' end  -- written before revisions
  return rev == plan.expect
end

local result = {}
for p, plan in ipairs(plans) do result[p] = guard_holds(plan) and 1 or 0 end

for p, plan in ipairs(plans) do
  if result[p] == 1 then
    local i = plan.first
    while i <= plan.last do
      local op = ARGV[i]
      if op == 'H' or op == 'D' then
        local n = tonumber(ARGV[i + 1])
        local width = op == 'H' and 2 * n or n
        redis.call(op == 'H' and 'HSET' or 'HDEL', plan.rec, unpack(ARGV, i + 2, i + 1 + width))
        i = i + 2 + width
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
      else
        return redis.error_reply('ERR commit_games: unknown op ' .. tostring(op))
      end
    end
  end
end
return result
