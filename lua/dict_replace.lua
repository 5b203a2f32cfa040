-- dict_replace: replace the whole content of a hash with the given fields, atomically
-- (Dict/DefaultDict/Counter construction with initial=, assignment to .value, and clear()).
--
-- KEYS[1] hash     the object's hash (field -> encoded value, or decimal count)
-- KEYS[2] scratch  the object's {K}:tmp key: the replacement is built there first
-- ARGV    pairs    field1, value1, field2, value2, ... (may be empty: the hash is emptied)
--
-- Returns the number of fields written.
-- Invariants: the old content is never deleted before the new one is complete: it
-- is built in KEYS[2] and RENAMEd over KEYS[1] (a failure half-way leaves KEYS[1]
-- as it was).  A key of another Redis type is refused (WRONGTYPE from HLEN) before
-- anything changes.  HSET runs in chunks of 500 pairs (never an unbounded unpack).
-- A TTL on KEYS[1] is kept (as SET ... KEEPTTL keeps one): replacing the content is
-- not a new key.  An empty replacement deletes the key, and with it the TTL.
local hash, scratch = KEYS[1], KEYS[2]
local n = #ARGV

if n % 2 == 1 then
  return redis.error_reply('ERR dict_replace takes field/value pairs')
end
redis.call('HLEN', hash)
if n == 0 then
  redis.call('DEL', hash)
  return 0
end
redis.call('DEL', scratch)
for i = 1, n, 1000 do
  redis.call('HSET', scratch, unpack(ARGV, i, math.min(i + 999, n)))
end
local ttl = redis.call('PTTL', hash)
redis.call('RENAME', scratch, hash)
if ttl > 0 then
  redis.call('PEXPIRE', hash, ttl)
end
return n / 2
