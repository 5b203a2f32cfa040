-- lock_release: leave one level of a hold, atomically; on the last level free the
-- lock and wake the next waiter (the head of the FIFO line if there is one, else one
-- unfair waiter through the signal list).
--
-- KEYS[1] lock     hash {owner: depth, "@"..owner: last request id}
-- KEYS[2] fence    hash {n, seq, last: request id of the last final release}
-- KEYS[3] waiters  zset owner -> registration deadline (unfair waiters)
-- KEYS[4] signal   list; one element wakes one unfair waiter
-- KEYS[5] line     zset owner -> arrival sequence (fair waiters)
-- KEYS[6] tickets  zset owner -> ticket deadline (fair waiters)
-- ARGV[1] owner    owner id
-- ARGV[2] req      request id of this release call (same value on a retry)
-- ARGV[3] sigttl   milliseconds a pushed wake-up signal may wait to be taken
-- ARGV[4] handoff  milliseconds a release that finds a hungry waiter (fence.hungry,
--                  see lock_acquire) reserves the free lock for the waiters
--
-- Returns {1, depth_left[, head]} released (head: fair waiter to wake, caller pushes
-- its signal), {2, depth_left} this request was already applied (a retry),
-- {0} the caller does not hold the lock.
local lock, fence, waiters, signal, line, tickets = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local owner, req, sigttl, handoff = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4] or '0')
local reqf = '@' .. owner

local mine = redis.call('HMGET', lock, reqf, owner)
if mine[1] == req then
  return {2, tonumber(mine[2] or 0)}
end
if not mine[2] then
  if redis.call('HGET', fence, 'last') == req then
    return {2, 0}
  end
  return {0}
end

local depth = tonumber(mine[2]) - 1
if depth > 0 then
  redis.call('HSET', lock, owner, depth, reqf, req)
  return {1, depth}
end

redis.call('DEL', lock)
redis.call('HSET', fence, 'last', req)
if redis.call('EXISTS', waiters, line) == 0 then
  return {1, 0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now)
if redis.call('ZCARD', waiters) > 0 then
  redis.call('LPUSH', signal, '1')
  redis.call('PEXPIRE', signal, sigttl)
  if redis.call('HDEL', fence, 'hungry') == 1 and handoff > 0 then
    redis.call('HSET', fence, 'hand', now + handoff)
  end
end
local dead = redis.call('ZRANGEBYSCORE', tickets, '-inf', now, 'LIMIT', 0, 100)
for i = 1, #dead do
  redis.call('ZREM', line, dead[i])
  redis.call('ZREM', tickets, dead[i])
end
local head = redis.call('ZRANGE', line, 0, 0)[1]
if head then
  return {1, 0, head}
end
return {1, 0}
