-- Read only. Sizes of the three sets in one atomic read.
-- KEYS[1] pending, KEYS[2] lobby, KEYS[3] active
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3])}
