-- dict_merge: copy every field of one hash into another, then set the given pairs, atomically
-- (Dict.update / |= when the argument is a Dict on the same server and slot; update's
-- keyword arguments are the pairs, set after the copy so that they win, as in dict.update).
--
-- KEYS[1] dest     the hash that is updated
-- KEYS[2] source   the hash whose fields are copied (missing: nothing to copy)
-- ARGV    pairs    field1, value1, field2, value2, ... (may be empty)
--
-- Returns the number of fields copied.
-- Errors: WRONGTYPE (KEYS[1] is not a hash) or 'WRONGTYPE ... (key #2)' (KEYS[2] is not).
-- Invariants: both keys are type-checked (WRONGTYPE) before anything changes, so
-- nothing is half-written; HSET runs in chunks of 500 pairs (no unbounded unpack).
local dest, source = KEYS[1], KEYS[2]

redis.call('HLEN', dest)
local flat = redis.pcall('HGETALL', source)
if flat.err then return redis.error_reply(flat.err .. ' (key #2)') end
local n = #flat
for i = 1, n, 1000 do
  redis.call('HSET', dest, unpack(flat, i, math.min(i + 999, n)))
end
for i = 1, #ARGV, 1000 do
  redis.call('HSET', dest, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
return n / 2
