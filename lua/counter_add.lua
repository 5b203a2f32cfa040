-- counter_add: add counts to a counter hash, atomically (Counter.update/subtract, += and -=).
--
-- KEYS[1] counter  hash: field -> decimal count (signed 64-bit)
-- KEYS[2] source   optional: a counter hash whose counts are added, times ARGV[2]
-- ARGV[1] prune    '1': afterwards delete every field whose count is <= 0 (Counter's
--                  += and -=); '0': keep every count (update, subtract)
-- ARGV[2] sign     '1' or '-1', applied to the counts of KEYS[2] (unused without it)
-- ARGV[3..]        field, increment, field, increment ... (without KEYS[2])
--
-- Returns the number of fields deleted by pruning.
-- Errors, with nothing changed (increments already applied are undone first):
--   'WRONGTYPE ... (key #2)'  KEYS[2] is not a hash (WRONGTYPE without it: KEYS[1])
--   'OVERFLOW <field>'  the count would leave the signed 64-bit range
--   'NOTINT <field>'    the stored count is not an integer
-- Invariants: increments use HINCRBY (exact 64-bit arithmetic, never Lua doubles).
local counter, source = KEYS[1], KEYS[2]
local prune, sign = ARGV[1] == '1', ARGV[2]

local function neg(n)
  if n == '0' then return n end
  if string.sub(n, 1, 1) == '-' then return string.sub(n, 2) end
  return '-' .. n
end

redis.call('HLEN', counter)
local incs, first = ARGV, 3
if source then
  local flat = redis.pcall('HGETALL', source)
  if flat.err then return redis.error_reply(flat.err .. ' (key #2)') end
  incs, first = {}, 1
  for i = 1, #flat, 2 do
    incs[i], incs[i + 1] = flat[i], sign == '-1' and neg(flat[i + 1]) or flat[i + 1]
  end
end

local before = {}
for i = first, #incs, 2 do
  local field = incs[i]
  before[#before + 1] = {field, redis.call('HGET', counter, field)}
  local r = redis.pcall('HINCRBY', counter, field, incs[i + 1])
  if type(r) == 'table' and r.err then
    for j = #before, 1, -1 do
      local old = before[j]
      if old[2] then redis.call('HSET', counter, old[1], old[2]) else redis.call('HDEL', counter, old[1]) end
    end
    local overflow = string.find(r.err, 'overflow', 1, true) or string.find(r.err, 'out of range', 1, true)
    return redis.error_reply((overflow and 'OVERFLOW ' or 'NOTINT ') .. field)
  end
end

local pruned = 0
if prune then
  local flat = redis.call('HGETALL', counter)
  for i = 1, #flat, 2 do
    local n = flat[i + 1]
    if n == '0' or string.sub(n, 1, 1) == '-' then
      redis.call('HDEL', counter, flat[i])
      pruned = pruned + 1
    end
  end
end
return pruned
