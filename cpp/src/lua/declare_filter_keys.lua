-- Declares a namespace's filter keys unless it has some: stores ARGV[1] (sorted keys, comma-
-- joined, not empty) in field filter_keys of hash KEYS[1] when the field is missing or empty
-- (an empty declaration, which versions before 0.5 stored, is no declaration). Only stores;
-- C++ validates what comes back (parse_filter_keys_config).
-- Returns {the field's text afterwards ('' for none), 1 if this call stored it else 0}.
local current = redis.call('HGET', KEYS[1], 'filter_keys')
if (not current or current == '') and ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], 'filter_keys', ARGV[1])
  return {ARGV[1], 1}
end
return {current or '', 0}
