-- list_reverse: reverse a list in place, atomically (a reversed copy replaces it by RENAME).
--
-- KEYS[1] list   Redis list of codec-encoded elements
-- KEYS[2] tmp    scratch list in the same slot; empty before and after the script
--
-- Returns the length.
-- Invariants: reads and pushes at most 1000 elements at a time (no unbounded
-- unpack); the list is untouched until its reversed copy is complete; TTL kept.
local list, tmp = KEYS[1], KEYS[2]

local n = redis.call('LLEN', list)
if n < 2 then
  return n
end
redis.call('DEL', tmp)
for i = 0, n - 1, 1000 do
  -- LPUSH a b c leaves c b a at the head: each chunk lands reversed, in front of the previous ones
  redis.call('LPUSH', tmp, unpack(redis.call('LRANGE', list, i, i + 999)))
end
local ttl = redis.call('PTTL', list)
redis.call('RENAME', tmp, list)
if ttl > 0 then
  redis.call('PEXPIRE', list, ttl)
end
return n
