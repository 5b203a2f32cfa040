-- lock_release: leave one level of a hold, atomically; on the last level free the
-- lock and pass it on, in this order: grant it to the unfair waiter that claimed
-- the next release (starvation mode, see lock_acquire), else to the head of the
-- FIFO line; and wake one unfair waiter through the signal list.
--
-- Direct grant: the claim ("<lease>#<req>#<owner>") or the head's place in line
-- ("<req>#<owner>", see lock_acquire_fair) names one acquire call, so the lock
-- becomes {owner: 1, "@"..owner: req} at once, with a fresh fencing token, and the
-- call's own wake-up list ("<req>#<owner>") gets "g<token>": the waiter returns
-- from its BLPOP holding the lock, with no round trip of its own.  The grant lives
-- as long as the waiter's registration or ticket had left (at most its lease); the
-- waiter times its lease from what it knows of that, so a waiter that died while
-- waiting holds the lock no longer than its registration or ticket would have lasted.
--
-- KEYS[1] lock     hash {owner: depth, "@"..owner: last request id}
-- KEYS[2] fence    hash {n, seq, last: request id of the last final release}
-- KEYS[3] waiters  zset owner -> registration deadline (unfair waiters)
-- KEYS[4] signal   list; one element wakes one unfair waiter
-- KEYS[5] line     zset "<req>#<owner>" -> arrival sequence (fair waiters)
-- KEYS[6] tickets  zset "<req>#<owner>" -> ticket deadline (fair waiters)
-- KEYS[7] released list: request ids of the last `keep` final releases made while
--                  others waited, newest first, so that a retry whose first attempt
--                  freed the lock (reply lost) is told so even after other holds came
--                  and went; PEXPIRE remember.  A release nobody waited for is only
--                  in fence.last (the uncontended path stays as cheap as it was).
--                  Optional: without it only fence.last is checked
-- ARGV[1] owner    owner id
-- ARGV[2] req      request id of this release call (same value on a retry)
-- ARGV[3] sigttl   milliseconds a pushed wake-up signal may wait to be taken
-- ARGV[4] starve   '1': starvation mode, grant the lock to the call that claimed
--                  fence.hungry (see lock_acquire); anything else: ignore the claim
-- ARGV[5] wprefix  name of a waiter's own wake-up list, less its id (the hungry
--                  waiter's owner id; the fair head's place in line): pushed here
--                  (LPUSH, PEXPIRE sigttl) in the same round trip.  The lists share
--                  the lock's hash tag, hence its cluster slot.
-- ARGV[6] token    the releasing hold's fencing token, or '' (no check): a newer hold
--                  of the same owner id (an RLock owner's other object) is not touched
-- ARGV[7] remember milliseconds a final release's request id is kept in KEYS[7] (at
--                  least as long as the caller may retry it)
--
-- Returns {1, depth_left} released (the head of the fair line, if any, granted),
-- {2, depth_left} this request was already applied (a retry),
-- {0} the caller does not hold the lock.
-- Invariant: KEYS[7] holds at most `keep` ids and expires `remember` ms after the last.
local lock, fence, waiters, signal, line, tickets = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local released, remember, keep = KEYS[7], tonumber(ARGV[7]), 256
local owner, req, sigttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local reqf = '@' .. owner
local starve = ARGV[4] == '1'
local function wake(waiter, what)  -- push a waiter's own wake-up list
  local key = ARGV[5] .. waiter
  redis.call('LPUSH', key, what or '1')
  redis.call('PEXPIRE', key, sigttl)
end
local granted = false
local function grant(holder, hreq, ttl, member)  -- hand the free lock to a waiting call
  local n = redis.call('HINCRBY', fence, 'n', 1)
  redis.call('HSET', lock, holder, 1, '@' .. holder, hreq)
  redis.call('PEXPIRE', lock, ttl)
  wake(member, 'g' .. n)
  granted = true
end

local mine = redis.call('HMGET', lock, reqf, owner)
if mine[1] == req then
  return {2, tonumber(mine[2] or 0)}
end
if not mine[2] then
  if redis.call('HGET', fence, 'last') == req or (released and redis.call('LPOS', released, req)) then
    return {2, 0}
  end
  return {0}
end

local token = ARGV[6] or ''
if token ~= '' then
  local n = redis.call('HGET', fence, 'n')
  if n and n ~= token then  -- a newer hold of this owner id: not the caller's
    return {0}
  end
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
if released then  -- others wait: one of them may acquire and release before a retry
  redis.call('LPUSH', released, req)
  redis.call('LTRIM', released, 0, keep - 1)
  redis.call('PEXPIRE', released, remember)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now)
local claim = starve and redis.call('HGET', fence, 'hungry')
if claim then
  redis.call('HDEL', fence, 'hungry')
  local a = string.find(claim, '#', 1, true)
  local b = a and string.find(claim, '#', a + 1, true)
  local holder = b and string.sub(claim, b + 1)
  -- still registered (ended registrations were just dropped): a waiter that died
  -- gets the lock only until its registration would have ended, at most one lease
  local reg = holder and tonumber(redis.call('ZSCORE', waiters, holder))
  if reg then
    local hreq = string.sub(claim, a + 1, b - 1)
    grant(holder, hreq, math.min(tonumber(string.sub(claim, 1, a - 1)), reg - now), hreq .. '#' .. holder)
    redis.call('ZREM', waiters, holder)
  end
end
if redis.call('ZCARD', waiters) > 0 then
  -- one unfair waiter wakes, to claim the next release if it has waited long; pushed
  -- after the grant's own list, which a hungry waiter blocked on both pops first
  redis.call('LPUSH', signal, '1')
  redis.call('PEXPIRE', signal, sigttl)
end
local dead = redis.call('ZRANGEBYSCORE', tickets, '-inf', now, 'LIMIT', 0, 100)
for i = 1, #dead do
  redis.call('ZREM', line, dead[i])
  redis.call('ZREM', tickets, dead[i])
end
local head = redis.call('ZRANGE', line, 0, 0)[1]
if not head then
  return {1, 0}
end
local sep = string.find(head, '#', 1, true)
local ends = tonumber(redis.call('ZSCORE', tickets, head))
if granted or not sep or not ends or ends <= now then
  wake(head)  -- the lock went to a hungry waiter: the head tries after it
  return {1, 0}
end
local hreq = string.sub(head, 1, sep - 1)
grant(string.sub(head, sep + 1), hreq, ends - now, head)
redis.call('ZREM', line, head)
redis.call('ZREM', tickets, head)
return {1, 0}
