-- lock_renew: keep a held lease alive: raise the lock's TTL to at least the lease
-- (never shortens an extend()), only if the owner still holds it.
--
-- KEYS[1] lock   hash {owner: depth, ...}
-- KEYS[2] fence  hash {n: fencing token of the current hold, ...} (optional)
-- ARGV[1] owner  owner id
-- ARGV[2] lease  lease in milliseconds
-- ARGV[3] token  the hold's fencing token (optional): the owner id alone does not
--                tell two holds of one RLock owner (one thread, two objects) apart
--
-- Returns 1 when renewed (or already long enough), 0 when the owner no longer holds
-- the lock (expired, deleted or taken over), or holds a newer hold than `token`.
local lock, fence, owner, lease, token = KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), ARGV[3]
if redis.call('HEXISTS', lock, owner) == 0 then
  return 0
end
if token then
  local n = redis.call('HGET', fence, 'n')
  if n and n ~= token then  -- granted afresh since (a missing counter proves nothing)
    return 0
  end
end
if redis.call('PTTL', lock) < lease then
  redis.call('PEXPIRE', lock, lease)
end
return 1
