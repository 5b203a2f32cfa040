-- counter_union: element-wise maximum with another multiset, then drop counts <= 0,
-- atomically (Counter |=).
--
-- KEYS[1] counter  hash: field -> decimal count (signed 64-bit)
-- KEYS[2] source   optional: the other counter hash
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
local other = ARGV
if source then
  other = redis.pcall('HGETALL', source)
  if other.err then return redis.error_reply(other.err .. ' (key #2)') end
end
for _, flat in ipairs({mine, other}) do
  for i = 2, #flat, 2 do
    if not string.match(flat[i], '^%-?%d+$') then
      return redis.error_reply('NOTINT ' .. flat[i - 1])
    end
  end
end

for i = 1, #other, 2 do
  local field, count = other[i], other[i + 1]
  if less(redis.call('HGET', counter, field) or '0', count) then
    redis.call('HSET', counter, field, count)
  end
end
local flat = redis.call('HGETALL', counter)
for i = 1, #flat, 2 do
  local n = flat[i + 1]
  if n == '0' or string.sub(n, 1, 1) == '-' then
    redis.call('HDEL', counter, flat[i])
  end
end
return redis.call('HLEN', counter)
