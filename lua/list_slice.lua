-- list_slice: read list[start:stop:step] for a step other than 1, atomically (read-only).
--
-- KEYS[1] list   Redis list of codec-encoded elements
-- ARGV[1] start  integer (client sends +-2^53 for a missing bound)
-- ARGV[2] stop   integer (same)
-- ARGV[3] step   non-zero integer
--
-- Returns the selected elements in slice order (possibly none).
-- Invariants: bounds follow CPython's PySlice_AdjustIndices; reads the covered
-- range 1000 elements at a time.
local list = KEYS[1]
local start, stop, step = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

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
if k == 0 then
  return {}
end
local last = start + (k - 1) * step
local lo, hi = math.min(start, last), math.max(start, last)
local picked = {}
for i = lo, hi, 1000 do
  local chunk = redis.call('LRANGE', list, i, math.min(i + 999, hi))
  for j = 1, #chunk do
    local d = i + j - 1 - start
    if d % step == 0 then
      picked[d / step + 1] = chunk[j]
    end
  end
end
return picked
