-- set_update: set |= other sets (keys) and members (ARGV), atomically and in place.
--
-- KEYS[1] set      Redis set of codec-encoded members
-- KEYS[2..]        other sets in the same slot whose members are added
-- ARGV[1..n]       members to add (may be empty)
--
-- Returns the new size.
-- Errors: 'WRONGTYPE ... (key #i)': KEYS[i] is not a set (the first such key).
-- Invariants: every key's type is checked before the first write (WRONGTYPE,
-- nothing written); members are added 1000 at a time; nothing is removed.
local set = KEYS[1]
local keys = KEYS  -- the main set and the other operands

-- @include wrong_type
for i = 1, #keys do
  local err = wrong_type(keys[i], 'set', i)
  if err then return err end
end
local function add(members)
  for i = 1, #members, 1000 do
    redis.call('SADD', set, unpack(members, i, math.min(i + 999, #members)))
  end
end
for i = 2, #keys do
  add(redis.call('SMEMBERS', keys[i]))
end
add(ARGV)
return redis.call('SCARD', set)
