-- Removes the entries of stream KEYS[1] that every consumer group has read and acknowledged:
-- XTRIM MINID <the oldest id some group still needs>. A group needs its oldest pending entry,
-- or else whatever follows the last entry it read. A stream without groups is left alone.
-- Returns the number of entries removed.
-- Uses field() and compare() from stream_helpers.lua, sent in front of this script.

-- A decimal string plus one, exact at any length (seq may exceed 2^53).
local function increment(digits)
  local tail = ''
  for i = #digits, 1, -1 do
    local d = string.byte(digits, i) - 48
    if d < 9 then return string.sub(digits, 1, i - 1) .. (d + 1) .. tail end
    tail = '0' .. tail
  end
  return '1' .. tail
end

-- The smallest id after `id`.
local function successor(id)
  local ms, seq = string.match(id, '^(%d+)%-(%d+)$')
  if seq == '18446744073709551615' then return increment(ms) .. '-0' end
  return ms .. '-' .. increment(seq)
end

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local keep_from = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local needed = successor(field(g, 'last-delivered-id'))
  if field(g, 'pending') > 0 then
    local oldest = redis.call('XPENDING', KEYS[1], field(g, 'name'))[2]
    if compare(oldest, needed) < 0 then needed = oldest end
  end
  if not keep_from or compare(needed, keep_from) < 0 then keep_from = needed end
end
if not keep_from then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', keep_from)
