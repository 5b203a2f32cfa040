-- semaphore_renew: keep one held permit alive: push its lease deadline to at least
-- now + lease (never shortens it), only if the permit is still held.
--
-- KEYS[1] permits  zset "<owner>/<permit id>" -> lease deadline (server ms)
-- ARGV[1] permit   the permit's member
-- ARGV[2] lease    lease in milliseconds
--
-- Returns 1 when renewed, 0 when the permit is gone (reclaimed after its lease ended,
-- or deleted).  A permit still present but past its deadline was never reclaimed, so
-- nobody was granted in its place: renewing it is safe.
local permits, member, lease = KEYS[1], ARGV[1], tonumber(ARGV[2])
local score = redis.call('ZSCORE', permits, member)
if not score then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(score) < now + lease then
  redis.call('ZADD', permits, now + lease, member)
end
if redis.call('PTTL', permits) < lease then
  redis.call('PEXPIRE', permits, lease)
end
return 1
