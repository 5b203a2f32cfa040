-- counter_intersect: element-wise minimum with another multiset, keeping only positive
-- counts, atomically (Counter &=).
--
-- KEYS[1] counter  hash: field -> decimal count (signed 64-bit)
-- KEYS[2] source   optional: the other counter hash (absent fields count 0)
-- ARGV             field, count, field, count ... (without KEYS[2])
--
-- Returns the number of fields left.
-- Errors, with nothing changed: 'NOTINT <field>' a count is not a decimal integer;
-- 'WRONGTYPE ... (key #2)' KEYS[2] is not a hash (plain WRONGTYPE: KEYS[1] is not).
-- Invariants: counts are compared as decimal strings (exact beyond 2^53).
local counter, source = KEYS[1], KEYS[2]

local function less(a, b)
  local na, nb = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
  if na ~= nb then return na end
  if na then a, b = string.sub(b, 2), string.sub(a, 2) end
  if #a ~= #b then return #a < #b end
  return a < b
end

local mine = redis.call('HGETALL', counter)
local flat = ARGV
if source then
  flat = redis.pcall('HGETALL', source)
  if flat.err then return redis.error_reply(flat.err .. ' (key #2)') end
end
local other = {}
for i = 1, #flat, 2 do
  if not string.match(flat[i + 1], '^%-?%d+$') then
    return redis.error_reply('NOTINT ' .. flat[i])
  end
  other[flat[i]] = flat[i + 1]
end
for i = 2, #mine, 2 do
  if not string.match(mine[i], '^%-?%d+$') then
    return redis.error_reply('NOTINT ' .. mine[i - 1])
  end
end

for i = 1, #mine, 2 do
  local field, count = mine[i], mine[i + 1]
  local keep = count
  local theirs = other[field] or '0'
  if less(theirs, count) then keep = theirs end
  if keep == '0' or string.sub(keep, 1, 1) == '-' then
    redis.call('HDEL', counter, field)
  elseif keep ~= count then
    redis.call('HSET', counter, field, keep)
  end
end
return redis.call('HLEN', counter)
