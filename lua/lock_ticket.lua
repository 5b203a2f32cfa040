-- lock_ticket: heartbeat of a fair waiter: renew its ticket, drop dead tickets, and
-- report the head of the line when the lock is free, so that the caller can wake it
-- (this is how a line whose head died moves on without anyone releasing).
--
-- KEYS[1] lock     hash (only its existence is read)
-- KEYS[2] line     zset "<req>#<owner>" -> arrival sequence
-- KEYS[3] tickets  zset "<req>#<owner>" -> ticket deadline (server ms)
-- ARGV[1] member   the waiter's place in line, "<req>#<owner>"
-- ARGV[2] ticket   ticket lease in milliseconds
--
-- Returns {0} when the waiter is no longer in line (it left, its ticket lapsed, or a
-- release granted it the lock), {1} when renewed, {1, head} when renewed and the lock
-- is free: the caller should wake `head`.
local lock, line, tickets = KEYS[1], KEYS[2], KEYS[3]
local member, ticket = ARGV[1], tonumber(ARGV[2])
if not redis.call('ZSCORE', line, member) then
  return {0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', tickets, now + ticket, member)
for _, k in ipairs({line, tickets}) do
  if redis.call('PTTL', k) < ticket then
    redis.call('PEXPIRE', k, ticket)
  end
end
local dead = redis.call('ZRANGEBYSCORE', tickets, '-inf', now, 'LIMIT', 0, 100)
for i = 1, #dead do
  redis.call('ZREM', line, dead[i])
  redis.call('ZREM', tickets, dead[i])
end
if redis.call('EXISTS', lock) == 0 then
  local head = redis.call('ZRANGE', line, 0, 0)[1]
  if head then
    return {1, head}
  end
end
return {1}
