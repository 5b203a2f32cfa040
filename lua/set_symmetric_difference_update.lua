-- set_symmetric_difference_update: set ^= other, atomically and in place.
--
-- KEYS[1] set      Redis set of codec-encoded members
-- KEYS[2]          optional: the other set, in the same slot (may be KEYS[1] itself)
-- ARGV[1..n]       without KEYS[2]: the other operand's distinct members (may be empty)
--
-- Returns the new size.
-- Errors: 'WRONGTYPE ... (key #i)': KEYS[i] is not a set (the first such key).
-- Invariants: types checked before any write; each member of the other operand
-- is removed if present and added if absent (SREM/SADD), nothing is rebuilt.
local set, other = KEYS[1], KEYS[2]
local keys = KEYS  -- the main set and the other operands

-- @include wrong_type
for i = 1, #keys do
  local err = wrong_type(keys[i], 'set', i)
  if err then return err end
end
local members = ARGV
if other then
  members = redis.call('SMEMBERS', other)
end
for _, m in ipairs(members) do
  if redis.call('SISMEMBER', set, m) == 1 then
    redis.call('SREM', set, m)
  else
    redis.call('SADD', set, m)
  end
end
return redis.call('SCARD', set)
