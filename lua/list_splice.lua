-- list_splice: list[start:stop] = values (or del list[start:stop]), atomically, with Python's bounds.
--
-- KEYS[1] list    Redis list of codec-encoded elements
-- KEYS[2] tmp     scratch list in the same slot; empty before and after the script
-- ARGV[1] start   integer (client sends +-2^53 for a missing bound)
-- ARGV[2] stop    integer (same)
-- ARGV[3..]       the new elements (none for a deletion)
--
-- Returns the new length.
-- Invariants: same-size replacements of up to 1000 elements, appends and cuts
-- at either end are done in place (LSET / RPUSH / LTRIM); anything else builds
-- the result in tmp, 1000 elements at a time, and only then RENAMEs it over the
-- list (TTL kept).  Nothing is deleted before its replacement exists.
local list, tmp = KEYS[1], KEYS[2]
local start, stop = tonumber(ARGV[1]), tonumber(ARGV[2])
local m = #ARGV - 2

local n = redis.call('LLEN', list)
local function adjust(i)
  if i < 0 then return math.max(i + n, 0) end
  return math.min(i, n)
end
start, stop = adjust(start), adjust(stop)
if stop < start then stop = start end
local function push(dest, from, to)  -- ARGV[from..to] onto dest, chunked
  for i = from, to, 1000 do
    redis.call('RPUSH', dest, unpack(ARGV, i, math.min(i + 999, to)))
  end
end

if m == stop - start and m <= 1000 then
  for j = 1, m do redis.call('LSET', list, start + j - 1, ARGV[j + 2]) end
elseif start == n then
  push(list, 3, m + 2)
elseif m == 0 and start == 0 and stop == n then
  redis.call('DEL', list)
elseif m == 0 and stop == n then
  redis.call('LTRIM', list, 0, start - 1)
elseif m == 0 and start == 0 then
  redis.call('LTRIM', list, stop, -1)
else
  redis.call('DEL', tmp)
  local function copy(from, to)  -- list[from..to) onto tmp, chunked
    for i = from, to - 1, 1000 do
      redis.call('RPUSH', tmp, unpack(redis.call('LRANGE', list, i, math.min(i + 999, to - 1))))
    end
  end
  copy(0, start)
  push(tmp, 3, m + 2)
  copy(stop, n)
  local ttl = redis.call('PTTL', list)
  redis.call('RENAME', tmp, list)
  if ttl > 0 then redis.call('PEXPIRE', list, ttl) end
end
return n - (stop - start) + m
