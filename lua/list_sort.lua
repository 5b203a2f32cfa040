-- list_sort: reorder a list by a client-computed permutation, if it still holds exactly what the client read.
--
-- KEYS[1] list    Redis list of codec-encoded elements
-- KEYS[2] tmp     scratch list in the same slot; empty before and after the script
-- ARGV[1] digest  SHA1 (hex) of the list as read: "<byte length>:<bytes>" per element, concatenated
-- ARGV[2..n+1]    the permutation: ARGV[i+1] is the 0-based position, in the list as read,
--                 of the element that goes to position i-1
--
-- Returns 1 when the list was reordered, 0 when it changed since it was read
-- (nothing is written; the client reads and sorts again).
-- Invariants: compare-and-set on the exact content; the result is a permutation
-- of the current elements, built in tmp 1000 at a time, then RENAMEd (TTL kept).
local list, tmp = KEYS[1], KEYS[2]
local digest = ARGV[1]
local n = #ARGV - 1

if redis.call('LLEN', list) ~= n then
  return 0
end
if n == 0 then
  return 1
end
local items, parts = {}, {}
for i = 0, n - 1, 1000 do
  local chunk = redis.call('LRANGE', list, i, i + 999)
  for j = 1, #chunk do
    items[#items + 1] = chunk[j]
    parts[#parts + 1] = #chunk[j] .. ':' .. chunk[j]
  end
end
if redis.sha1hex(table.concat(parts)) ~= digest then
  return 0
end
redis.call('DEL', tmp)
local out = {}
for i = 1, n do
  out[#out + 1] = items[tonumber(ARGV[i + 1]) + 1]
  if #out == 1000 or i == n then
    redis.call('RPUSH', tmp, unpack(out))
    out = {}
  end
end
local ttl = redis.call('PTTL', list)
redis.call('RENAME', tmp, list)
if ttl > 0 then
  redis.call('PEXPIRE', list, ttl)
end
return 1
