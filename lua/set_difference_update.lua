-- set_difference_update: set -= other sets (keys) and members (ARGV), atomically and in place.
--
-- KEYS[1] set      Redis set of codec-encoded members
-- KEYS[2..]        other sets in the same slot whose members are removed (may be KEYS[1] itself)
-- ARGV[1..n]       members to remove (may be empty)
--
-- Returns the new size.
-- Errors: 'WRONGTYPE ... (key #i)': KEYS[i] is not a set (the first such key).
-- Invariants: types checked before any write; only SREM, 1000 members at a time.
local set = KEYS[1]
local keys = KEYS  -- the main set and the other operands

-- @include wrong_type
for i = 1, #keys do
  local err = wrong_type(keys[i], 'set', i)
  if err then return err end
end
local function remove(members)
  for i = 1, #members, 1000 do
    redis.call('SREM', set, unpack(members, i, math.min(i + 999, #members)))
  end
end
for i = 2, #keys do
  remove(redis.call('SMEMBERS', keys[i]))
end
remove(ARGV)
return redis.call('SCARD', set)
