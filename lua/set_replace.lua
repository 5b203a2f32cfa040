-- set_replace: replace a whole set with new members, atomically, building the new set aside first.
--
-- KEYS[1] set    Redis set of codec-encoded members (the collection's main key)
-- KEYS[2] tmp    scratch set in the same slot; empty before and after the script
-- ARGV[1..n]     the new members, distinct (n may be 0: the set becomes empty)
--
-- Returns the new size.
-- Invariants: the old set is untouched until the new one is complete (RENAME);
-- its TTL is kept; a key of another type raises WRONGTYPE before any write.
local set, tmp = KEYS[1], KEYS[2]
local n = #ARGV

-- @include wrong_type
local err = wrong_type(set, 'set', 1)
if err then return err end
redis.call('DEL', tmp)
if n == 0 then
  redis.call('DEL', set)
  return 0
end
for i = 1, n, 1000 do
  redis.call('SADD', tmp, unpack(ARGV, i, math.min(i + 999, n)))
end
local ttl = redis.call('PTTL', set)
redis.call('RENAME', tmp, set)
if ttl > 0 then
  redis.call('PEXPIRE', set, ttl)
end
return redis.call('SCARD', set)
