-- list_stride: list[start:stop:step] = values, or del list[start:stop:step], for a step other than 1.
--
-- KEYS[1] list    Redis list of codec-encoded elements
-- KEYS[2] tmp     scratch list in the same slot; empty before and after the script
-- ARGV[1] start   integer (client sends +-2^53 for a missing bound)
-- ARGV[2] stop    integer (same)
-- ARGV[3] step    non-zero integer
-- ARGV[4] mode    'set' (replace the selected elements) or 'del' (remove them)
-- ARGV[5..]       the new elements, in slice order ('set' only)
--
-- Returns {1, new length}; {-1, slice length} when 'set' got a different number
-- of elements than the slice selects (nothing changes, like Python's ValueError).
-- Invariants: bounds follow PySlice_AdjustIndices; up to 1000 replacements are
-- done in place (LSET); otherwise the result is built in tmp 1000 elements at
-- a time and RENAMEd over the list (TTL kept).
local list, tmp = KEYS[1], KEYS[2]
local start, stop, step = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local delete = ARGV[4] == 'del'

local n = redis.call('LLEN', list)
local function adjust(i)
  if i < 0 then
    i = i + n
    if i < 0 then i = (step < 0) and -1 or 0 end
  elseif i >= n then
    i = (step < 0) and n - 1 or n
  end
  return i
end
start, stop = adjust(start), adjust(stop)
local k = 0
if step < 0 and stop < start then
  k = math.floor((start - stop - 1) / -step) + 1
elseif step > 0 and start < stop then
  k = math.floor((stop - start - 1) / step) + 1
end
if not delete and #ARGV - 4 ~= k then
  return {-1, k}
end
if k == 0 then
  return {1, n}
end
if not delete and k <= 1000 then
  for j = 0, k - 1 do redis.call('LSET', list, start + j * step, ARGV[j + 5]) end
  return {1, n}
end
redis.call('DEL', tmp)
local out = {}
local function emit(v)  -- buffer for tmp, flushed 1000 elements at a time
  out[#out + 1] = v
  if #out == 1000 then
    redis.call('RPUSH', tmp, unpack(out))
    out = {}
  end
end
for i = 0, n - 1, 1000 do
  local chunk = redis.call('LRANGE', list, i, i + 999)
  for j = 1, #chunk do
    local d = i + j - 1 - start
    if not (d % step == 0 and d / step >= 0 and d / step < k) then
      emit(chunk[j])
    elseif not delete then
      emit(ARGV[d / step + 5])
    end
  end
end
if #out > 0 then redis.call('RPUSH', tmp, unpack(out)) end
if redis.call('EXISTS', tmp) == 0 then
  redis.call('DEL', list)
  return {1, 0}
end
local ttl = redis.call('PTTL', list)
redis.call('RENAME', tmp, list)
if ttl > 0 then redis.call('PEXPIRE', list, ttl) end
return {1, n - (delete and k or 0)}
