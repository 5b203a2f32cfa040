-- list_pop: remove and return the element at an index (list.pop(i) / del list[i]), atomically.
--
-- KEYS[1] list      Redis list of codec-encoded elements
-- ARGV[1] index     integer; negative counts from the end
-- ARGV[2] sentinel  a random token that is not an element of the list
--
-- Returns {1, element}; {0} when the list is empty; {-1} when the index is out
-- of range (nothing changes in both cases).
-- Invariants: in place: the element is swapped for the sentinel, which LREM
-- then removes (count 1, from the head: the only occurrence).
local list = KEYS[1]
local index, sentinel = tonumber(ARGV[1]), ARGV[2]

local n = redis.call('LLEN', list)
if n == 0 then
  return {0}
end
if index < 0 then
  index = index + n
end
if index < 0 or index >= n then
  return {-1}
end
if index == 0 then
  return {1, redis.call('LPOP', list)}
end
if index == n - 1 then
  return {1, redis.call('RPOP', list)}
end
local value = redis.call('LINDEX', list, index)
redis.call('LSET', list, index, sentinel)
redis.call('LREM', list, 1, sentinel)
return {1, value}
