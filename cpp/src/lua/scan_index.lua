-- Read only. Entries of one sorted set in (score, id) order, each with its game record, in one
-- consistent snapshot; optionally merged with the entries of a second sorted set scored at
-- most a bound there, each placed by its record's score (Backend::scan_merged).
-- KEYS[1] the sorted set; KEYS[2] (optional) the second sorted set
-- ARGV[1] max score (exclusive), ARGV[2] limit (> 0), ARGV[3] game key prefix (the set's own
-- prefix and hash tag), ARGV[4] cursor score ('' = from the start), ARGV[5] cursor id: only
-- entries after (cursor score, cursor id) are returned. With KEYS[2]: ARGV[6] its bound
-- (inclusive), ARGV[7] the record's score field.
-- Returns a flat list: id, score, record (HGETALL array, empty when there is none), ...
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

local function after_cursor(score, id)
  if not has_cursor or score > cursor_score then return true end
  return score == cursor_score and bytes_less(cursor_id, id)
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

local main = {}
local first = start_rank()
local page = redis.call('ZRANGE', KEYS[1], first, first + limit - 1, 'WITHSCORES')
for i = 1, #page, 2 do
  local score = tonumber(page[i + 1])
  if score >= max then break end
  main[#main + 1] = {page[i], page[i + 1], score}
end

local extra = {}
if KEYS[2] then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], '-inf', ARGV[6], 'BYSCORE')) do
    local text = redis.call('HGET', prefix .. id, ARGV[7])
    local score = text and tonumber(text)
    if score and score < max and after_cursor(score, id) then extra[#extra + 1] = {id, text, score} end
  end
  table.sort(extra, function(a, b)
    if a[3] ~= b[3] then return a[3] < b[3] end
    return bytes_less(a[1], b[1])
  end)
end

local out = {}
local m, e = 1, 1
while #out / 3 < limit and (main[m] or extra[e]) do
  local pick
  if not extra[e] then
    pick, m = main[m], m + 1
  elseif not main[m] then
    pick, e = extra[e], e + 1
  elseif extra[e][3] < main[m][3] or (extra[e][3] == main[m][3] and bytes_less(extra[e][1], main[m][1])) then
    pick, e = extra[e], e + 1
  else
    pick, m = main[m], m + 1
  end
  out[#out + 1] = pick[1]
  out[#out + 1] = pick[2]
  out[#out + 1] = redis.call('HGETALL', prefix .. pick[1])
end
return out
