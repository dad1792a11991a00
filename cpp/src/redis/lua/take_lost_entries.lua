-- The lost-entry count of take_lost() in stream_helpers.lua, for stream KEYS[1] and consumer
-- group ARGV[1], run on its own (periodically, by every consumer). Returns what it returns.
-- Uses take_lost() from stream_helpers.lua, sent in front of this script.

return take_lost(KEYS[1], ARGV[1])
