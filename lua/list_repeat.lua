-- list_repeat: list *= times, in place and atomically (the list is appended to itself).
--
-- KEYS[1] list   Redis list of codec-encoded elements
-- ARGV[1] times  integer repeat count (<= 0 empties the list)
-- ARGV[2] limit  largest length the result may have
--
-- Returns the new length, or -1 (and changes nothing) when the result would
-- exceed the limit.
-- Invariants: never deletes before writing (copies of the original range are
-- pushed at the tail, 1000 elements at a time); times <= 0 clears like Python.
local list = KEYS[1]
local times, limit = tonumber(ARGV[1]), tonumber(ARGV[2])

local n = redis.call('LLEN', list)
if n == 0 or times == 1 then
  return n
end
if times <= 0 then
  redis.call('DEL', list)
  return 0
end
if n * times > limit then
  return -1
end
for _ = 2, times do
  for i = 0, n - 1, 1000 do
    redis.call('RPUSH', list, unpack(redis.call('LRANGE', list, i, math.min(i + 999, n - 1))))
  end
end
return n * times
