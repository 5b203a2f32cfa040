-- semaphore_ticket: heartbeat of a fair waiter: renew its ticket, drop waiters whose
-- ticket lapsed, and report the waiters that could be granted now (the first `free`
-- of the line), so that the caller wakes them; this is how the line moves on when a
-- head dies or a lease ends without a release.
--
-- KEYS[1] tokens   list of free tokens
-- KEYS[2] line     zset waiter id -> arrival number
-- KEYS[3] tickets  zset waiter id -> ticket deadline (server ms)
-- ARGV[1] waiter   waiter id
-- ARGV[2] ticket   ticket lease in milliseconds
--
-- Returns {0} when the waiter is no longer in line, else {1, waiter...}: renewed,
-- and the waiters to wake (may include the caller).
local tokens, line, tickets = KEYS[1], KEYS[2], KEYS[3]
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
local reply = {1}
local free = redis.call('LLEN', tokens)
if free > 0 then
  local heads = redis.call('ZRANGE', line, 0, math.min(free, 100) - 1)
  for i = 1, #heads do
    reply[#reply + 1] = heads[i]
  end
end
return reply
