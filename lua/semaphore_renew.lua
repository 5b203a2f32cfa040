-- semaphore_renew: keep a holder's registration (so its tokens) alive: push its
-- deadline to at least now + lease (never shortens it), only if still registered.
--
-- KEYS[1] holders  zset holder id -> lease deadline (server ms)
-- ARGV[1] holder   holder id
-- ARGV[2] lease    lease in milliseconds
--
-- Returns 1 when renewed, 0 when the holder is gone (reaped after its lease ended:
-- its tokens went back; or deleted).  A holder still present but past its deadline
-- was never reaped, so its tokens are all still its own: renewing it is safe.
local holders, holder, lease = KEYS[1], ARGV[1], tonumber(ARGV[2])
local score = redis.call('ZSCORE', holders, holder)
if not score or tonumber(score) < 0 then  -- gone, or reaped (a tombstone: see semaphore_reap)
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(score) < now + lease then
  redis.call('ZADD', holders, now + lease, holder)
end
if redis.call('PTTL', holders) < lease then
  redis.call('PEXPIRE', holders, lease)
end
return 1
