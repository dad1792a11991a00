-- Read only. Entries of one sorted set in (score, id) order, each with its game record, in one
-- consistent snapshot.
-- KEYS[1] the sorted set
-- ARGV[1] max score (exclusive), ARGV[2] limit (> 0), ARGV[3] game key prefix (the set's own
-- prefix and hash tag), ARGV[4] cursor score ('' = from the start), ARGV[5] cursor id: only
-- entries after (cursor score, cursor id) are returned.
-- Returns a flat list: id, score, record (HGETALL array, empty when there is none), ...
local limit = tonumber(ARGV[2])
local has_cursor = ARGV[4] ~= ''
local min = has_cursor and ARGV[4] or '-inf'
local cursor_score = has_cursor and tonumber(ARGV[4]) or 0
-- Redis orders members of equal score by their bytes; Lua's `>` on strings follows the
-- server's locale, so the cursor's id is compared byte by byte.
local function after_cursor_id(id, cursor_id)
  local n = math.min(#id, #cursor_id)
  for i = 1, n do
    local a, b = string.byte(id, i), string.byte(cursor_id, i)
    if a ~= b then return a > b end
  end
  return #id > #cursor_id
end

local out = {}
local n, offset = 0, 0
while n < limit do
  local page = redis.call('ZRANGE', KEYS[1], min, '(' .. ARGV[1], 'BYSCORE', 'LIMIT', offset,
                          limit, 'WITHSCORES')
  local got = #page / 2
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    -- Members of equal score are ordered by id, so the skipped ones are a prefix.
    if not has_cursor or tonumber(score) > cursor_score or after_cursor_id(id, ARGV[5]) then
      n = n + 1
      out[#out + 1] = id
      out[#out + 1] = score
      out[#out + 1] = redis.call('HGETALL', ARGV[3] .. id)
      if n == limit then break end
    end
  end
  if got < limit then break end
  offset = offset + got
end
return out
