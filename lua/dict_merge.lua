-- dict_merge: copy every field of one hash into another, atomically
-- (Dict.update / |= when the argument is a Dict on the same server and slot).
--
-- KEYS[1] dest     the hash that is updated
-- KEYS[2] source   the hash whose fields are copied (missing: nothing to copy)
--
-- Returns the number of fields copied.
-- Invariants: both keys are type-checked (WRONGTYPE) before anything changes;
-- HSET runs in chunks of 500 pairs.
local dest, source = KEYS[1], KEYS[2]

redis.call('HLEN', dest)
local flat = redis.call('HGETALL', source)
local n = #flat
for i = 1, n, 1000 do
  redis.call('HSET', dest, unpack(flat, i, math.min(i + 999, n)))
end
return n / 2
