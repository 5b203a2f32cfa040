-- lock_extend: add time to the remaining lease of a held lock, if the owner still
-- holds it.
--
-- KEYS[1] lock   hash {owner: depth, ...}
-- ARGV[1] owner  owner id
-- ARGV[2] add    milliseconds to add to the remaining TTL
--
-- Returns the new TTL in milliseconds (> 0), or 0 when the owner no longer holds it.
local lock, owner, add = KEYS[1], ARGV[1], tonumber(ARGV[2])
if redis.call('HEXISTS', lock, owner) == 0 then
  return 0
end
local ttl = redis.call('PTTL', lock)
if ttl < 0 then
  ttl = 0
end
redis.call('PEXPIRE', lock, ttl + add)
return ttl + add
