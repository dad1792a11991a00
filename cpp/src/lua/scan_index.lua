-- Entries of one sorted set in (score, id) order, each with its game record, in one consistent
-- snapshot. With a second sorted set (the first's reserved twin, Backend::scan_merged), first
-- moves that set's entries scored at most now back into the first, each at the score its record
-- holds in field ARGV[7] (an entry with no record keeps its own): at most ARGV[8] of them per call,
-- so no call blocks long; when more were due it returns no entries and lapsed_left = 1, and the
-- caller calls again.
-- The records are not written.
-- KEYS[1] the sorted set; KEYS[2] (optional) the twin
-- ARGV[1] max score (exclusive), ARGV[2] limit, ARGV[3] game key prefix (the set's own prefix
-- and hash tag), ARGV[4] cursor score ('' = from the start), ARGV[5] cursor id: only entries
-- after (cursor score, cursor id) are returned. With KEYS[2]: ARGV[6] now in ms ('' = this
-- server's TIME), ARGV[7] the record's field holding its open score, ARGV[8] the most entries to move.
-- Returns a flat list: now (the time used; 0 without KEYS[2]), lapsed_left (0 or 1), then id,
-- score, record (HGETALL array, empty when there is none), ...
-- A cursor is resumed in O(log n): by the rank of its id when that is still there at its
-- score, else by a binary search among the members of its score.
local max = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local prefix = ARGV[3]
local has_cursor = ARGV[4] ~= ''
local cursor_score = has_cursor and tonumber(ARGV[4]) or 0
local cursor_id = ARGV[5]

-- Redis orders members of equal score by their bytes; Lua's `<` on strings follows the
-- server's locale, so ids are compared byte by byte.
local function bytes_less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- The rank of the first member of KEYS[1] after the cursor.
local function start_rank()
  if not has_cursor then return 0 end
  local at = redis.call('ZSCORE', KEYS[1], cursor_id)
  if at and tonumber(at) == cursor_score then return redis.call('ZRANK', KEYS[1], cursor_id) + 1 end
  local lo = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[4])
  local hi = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[4])
  while lo < hi do  -- ranks lo..hi-1 hold the cursor's score, ordered by id
    local mid = math.floor((lo + hi) / 2)
    if bytes_less(cursor_id, redis.call('ZRANGE', KEYS[1], mid, mid)[1]) then hi = mid else lo = mid + 1 end
  end
  return lo
end

-- Every guard before the first write: a set of another type refuses the call, writing nothing.
for _, key in ipairs(KEYS) do
  local t = redis.call('TYPE', key).ok
  if t ~= 'none' and t ~= 'zset' then
    return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. t .. ', not a sorted set')
  end
end

local now = 0
if KEYS[2] then
  local bound = ARGV[6]
  if bound == '' then
    local t = redis.call('TIME')
    bound = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  end
  now = tonumber(bound)
  local moves = tonumber(ARGV[8])
  local due = redis.call('ZRANGE', KEYS[2], '-inf', bound, 'BYSCORE', 'LIMIT', 0, moves + 1, 'WITHSCORES')
  for i = 1, math.min(#due, 2 * moves), 2 do
    local id = due[i]
    local score = redis.pcall('HGET', prefix .. id, ARGV[7])  -- a record of another type: none
    if type(score) ~= 'string' then score = due[i + 1] end
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZADD', KEYS[1], score, id)
  end
  if #due > 2 * moves then return {now, 1} end
end

local out = {now, 0}
if limit < 1 then return out end
local first = start_rank()
local page = redis.call('ZRANGE', KEYS[1], first, first + limit - 1, 'WITHSCORES')
for i = 1, #page, 2 do
  local score = tonumber(page[i + 1])
  if score >= max then break end
  out[#out + 1] = page[i]
  out[#out + 1] = page[i + 1]
  local record = redis.pcall('HGETALL', prefix .. page[i])
  if record.err then record = 'WRONGTYPE' end  -- this game is refused, not the whole read
  out[#out + 1] = record
end
return out
