-- set_intersection_update: set &= other sets (keys) and a client-side set (ARGV), atomically, in place.
--
-- KEYS[1] set      Redis set of codec-encoded members
-- KEYS[2..]        other sets in the same slot to intersect with
-- ARGV[1] plain    '1' when the client sends a set of its own (ARGV[2..], possibly empty), '0' if not
-- ARGV[2..]        the client's members (the intersection of its plain operands)
--
-- Returns the new size.
-- Errors: 'WRONGTYPE ... (key #i)': KEYS[i] is not a set (the first such key).
-- Invariants: types checked before any write; only members that are not in
-- every operand are removed (SREM, 1000 at a time); nothing is rebuilt.
local set = KEYS[1]
local keys = KEYS  -- the main set and the other operands
local plain = ARGV[1] == '1'

-- @include wrong_type
for i = 1, #keys do
  local err = wrong_type(keys[i], 'set', i)
  if err then return err end
end
local given = {}
for i = 2, #ARGV do
  given[ARGV[i]] = true
end
local drop = {}
for _, m in ipairs(redis.call('SMEMBERS', set)) do
  local keep = not plain or given[m]
  for i = 2, #keys do
    keep = keep and redis.call('SISMEMBER', keys[i], m) == 1
  end
  if not keep then
    drop[#drop + 1] = m
  end
end
for i = 1, #drop, 1000 do
  redis.call('SREM', set, unpack(drop, i, math.min(i + 999, #drop)))
end
return redis.call('SCARD', set)
