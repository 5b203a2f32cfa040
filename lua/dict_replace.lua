-- dict_replace: replace the whole content of a hash with the given fields, atomically
-- (Dict/DefaultDict/Counter construction with initial=, and assignment to .value).
--
-- KEYS[1] hash     the object's hash (field -> encoded value, or decimal count)
-- ARGV    pairs    field1, value1, field2, value2, ... (may be empty: the hash is emptied)
--
-- Returns the number of fields written.
-- Invariants: a key of another Redis type is refused (WRONGTYPE from HLEN) before
-- anything changes; HSET runs in chunks of 500 pairs (never an unbounded unpack).
local hash = KEYS[1]
local n = #ARGV

redis.call('HLEN', hash)
redis.call('DEL', hash)
for i = 1, n, 1000 do
  redis.call('HSET', hash, unpack(ARGV, i, math.min(i + 999, n)))
end
return n / 2
