-- semaphore_init: store a semaphore's settings if it has none, atomically, or check
-- them against the caller's (two processes must never enforce different limits).
--
-- KEYS[1] meta   hash {initial: value at creation, capacity: permits in total,
--                kind: 'semaphore' | 'bounded', seq: fair-line counter}; no TTL
-- KEYS[2] permits  the semaphore's main key (read only: its type is checked)
-- ARGV[1] value  the caller's initial value (integer >= 0, decimal string)
-- ARGV[2] kind   'semaphore' or 'bounded'
--
-- Returns {1} when the settings were created or match, {-1, initial, kind} when the
-- stored ones differ; a WRONGTYPE error naming KEYS[2] (nothing written) when the
-- main key holds something other than a zset.
-- Invariant: `initial` and `kind` never change once stored; capacity starts at initial.
-- @include wrong_type

local meta, permits = KEYS[1], KEYS[2]
local value, kind = ARGV[1], ARGV[2]
local f = redis.call('HMGET', meta, 'initial', 'kind')
if not f[1] then
  local err = wrong_type(permits, 'zset', 2)
  if err then return err end
  redis.call('HSET', meta, 'initial', value, 'capacity', value, 'kind', kind)
  return {1}
end
if f[1] ~= value or f[2] ~= kind then
  return {-1, f[1], f[2] or ''}
end
return {1}
