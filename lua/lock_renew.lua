-- lock_renew: keep a held lease alive: raise the lock's TTL to at least the lease
-- (never shortens an extend()), only if the owner still holds it.
--
-- KEYS[1] lock   hash {owner: depth, ...}
-- ARGV[1] owner  owner id
-- ARGV[2] lease  lease in milliseconds
--
-- Returns 1 when renewed (or already long enough), 0 when the owner no longer holds
-- the lock (expired, deleted or taken over).
local lock, owner, lease = KEYS[1], ARGV[1], tonumber(ARGV[2])
if redis.call('HEXISTS', lock, owner) == 0 then
  return 0
end
if redis.call('PTTL', lock) < lease then
  redis.call('PEXPIRE', lock, lease)
end
return 1
