-- list_insert: list.insert(index, value) with Python's index rules, atomically and in place.
--
-- KEYS[1] list      Redis list of codec-encoded elements
-- ARGV[1] index     integer; negative counts from the end; clamped to [0, len]
-- ARGV[2] value     the encoded element
-- ARGV[3] sentinel  a random token that is not an element of the list
--
-- Returns the new length.
-- Invariants: in place: the element at the index is swapped for the sentinel,
-- the value is inserted before the sentinel (LINSERT), and the element is put
-- back; nothing is deleted or rebuilt.
local list = KEYS[1]
local index, value, sentinel = tonumber(ARGV[1]), ARGV[2], ARGV[3]

local n = redis.call('LLEN', list)
if index < 0 then
  index = math.max(index + n, 0)
elseif index > n then
  index = n
end
if index == 0 then
  return redis.call('LPUSH', list, value)
end
if index == n then
  return redis.call('RPUSH', list, value)
end
local pivot = redis.call('LINDEX', list, index)
redis.call('LSET', list, index, sentinel)
redis.call('LINSERT', list, 'BEFORE', sentinel, value)
redis.call('LSET', list, index + 1, pivot)
return n + 1
