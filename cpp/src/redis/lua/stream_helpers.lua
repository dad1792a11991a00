-- Shared by the stream scripts: redis_streams.cpp sends this text in front of each of them,
-- so every helper is written once. Defines no keys and runs no command.

-- The value of `name` in a flat {name, value, ...} reply (XINFO), or nil.
local function field(reply, name)
  for i = 1, #reply, 2 do
    if reply[i] == name then return reply[i + 1] end
  end
  return nil
end

-- Compares stream ids "<ms>-<seq>" (decimal numbers of any length, beyond 2^53): -1, 0 or 1.
local function compare(a, b)
  local am, as = string.match(a, '^(%d+)%-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)%-(%d+)$')
  for _, pair in ipairs({{am, bm}, {as, bs}}) do
    local x, y = pair[1], pair[2]
    if #x ~= #y then return #x < #y and -1 or 1 end
    if x ~= y then return x < y and -1 or 1 end
  end
  return 0
end
