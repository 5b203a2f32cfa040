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
--                  see lock_acquire) reserves the free lock for that waiter
-- ARGV[5] wprefix  name of a waiter's own wake-up list, less its owner id: the head of
--                  the fair line, or the hungry waiter, is woken here (LPUSH, PEXPIRE
--                  sigttl), in the same round trip.  The list shares the lock's hash
--                  tag, hence its cluster slot.
--
-- Returns {1, depth_left} released (the head of the fair line, if any, woken),
-- {2, depth_left} this request was already applied (a retry),
-- {0} the caller does not hold the lock.
local lock, fence, waiters, signal, line, tickets = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local owner, req, sigttl, handoff = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4] or '0')
local reqf = '@' .. owner
local function wake(waiter)  -- push a waiter's own wake-up list
  local key = ARGV[5] .. waiter
  redis.call('LPUSH', key, '1')
  redis.call('PEXPIRE', key, sigttl)
end

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
  -- the shared signal wakes one waiter even when the lock goes to a hungry one: should
  -- that one be gone, the woken waiter retries once the handoff window has passed
  redis.call('LPUSH', signal, '1')
  redis.call('PEXPIRE', signal, sigttl)
  local hungry = redis.call('HGET', fence, 'hungry')
  if hungry and handoff > 0 then
    redis.call('HDEL', fence, 'hungry')
    redis.call('HSET', fence, 'hand', now + handoff, 'handto', hungry)
    wake(hungry)
  end
end
local dead = redis.call('ZRANGEBYSCORE', tickets, '-inf', now, 'LIMIT', 0, 100)
for i = 1, #dead do
  redis.call('ZREM', line, dead[i])
  redis.call('ZREM', tickets, dead[i])
end
local head = redis.call('ZRANGE', line, 0, 0)[1]
if head then
  wake(head)
end
return {1, 0}
