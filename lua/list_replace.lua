-- list_replace: replace a whole list with new elements, atomically, building the new list aside first.
--
-- KEYS[1] list   Redis list of codec-encoded elements (the collection's main key)
-- KEYS[2] tmp    scratch list in the same slot; empty before and after the script
-- ARGV[1..n]     the new elements in order (n may be 0: the list becomes empty)
--
-- Returns the new length.
-- Invariants: the old list is untouched until the new one is complete (RENAME);
-- its TTL is kept; a key of another type raises WRONGTYPE before any write.
local list, tmp = KEYS[1], KEYS[2]
local n = #ARGV

-- @include wrong_type
local err = wrong_type(list, 'list', 1)
if err then return err end
redis.call('DEL', tmp)
if n == 0 then
  redis.call('DEL', list)
  return 0
end
for i = 1, n, 1000 do
  redis.call('RPUSH', tmp, unpack(ARGV, i, math.min(i + 999, n)))
end
local ttl = redis.call('PTTL', list)
redis.call('RENAME', tmp, list)
if ttl > 0 then
  redis.call('PEXPIRE', list, ttl)
end
return n
