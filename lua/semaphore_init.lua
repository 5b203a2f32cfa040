-- semaphore_init: store a semaphore's settings if it has none, atomically, or check
-- them against the caller's (two processes must never enforce different limits).
--
-- KEYS[1] meta   hash {initial: value at creation, capacity: permits in total,
--                kind: 'semaphore' | 'bounded', seq: fair-line counter}; no TTL
-- ARGV[1] value  the caller's initial value (integer >= 0, decimal string)
-- ARGV[2] kind   'semaphore' or 'bounded'
--
-- Returns {1} when the settings were created or match, {-1, initial, kind} when the
-- stored ones differ.
-- Invariant: `initial` and `kind` never change once stored; capacity starts at initial.
local meta = KEYS[1]
local value, kind = ARGV[1], ARGV[2]
local f = redis.call('HMGET', meta, 'initial', 'kind')
if not f[1] then
  redis.call('HSET', meta, 'initial', value, 'capacity', value, 'kind', kind)
  return {1}
end
if f[1] ~= value or f[2] ~= kind then
  return {-1, f[1], f[2] or ''}
end
return {1}
