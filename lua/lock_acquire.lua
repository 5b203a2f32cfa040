-- lock_acquire: try to take (or re-enter) a lock, atomically; register the caller
-- as a waiter when it is busy.  Shared by Lock and RLock (unfair mode).
--
-- KEYS[1] lock     hash {owner: depth, "@"..owner: last request id}, PEXPIRE = lease
-- KEYS[2] fence    hash {n: fencing counter, seq: line counter, last: last release id,
--                  hungry: "<lease>#<req>#<owner>" of the waiter served next}
-- KEYS[3] waiters  zset owner -> registration deadline (server ms)
-- KEYS[4] wake     this call's wake-up list (deleted when the call finds a grant that
--                  a release made for it: what was pushed there is moot)
-- ARGV[1] owner    owner id (Lock: one per acquire call; RLock: process+thread)
-- ARGV[2] req      request id of this acquire call (same value on a retry)
-- ARGV[3] lease    lease in milliseconds
-- ARGV[4] wait     milliseconds to stay registered as a waiter when busy (0 = don't)
-- ARGV[5] waited   0: first attempt of this call; 1: an earlier attempt registered
--                  as a waiter; 2: and it has been waiting long (it is "hungry")
-- ARGV[6] claimwait milliseconds to stay registered instead of `wait` when this
--                  call holds the claim on the next release (the claimant re-registers
--                  often: a release grants it the lock only while it is registered)
--
-- Starvation mode (as Go's sync.Mutex): newcomers may barge in, which is fast, but a
-- hungry waiter claims fence.hungry for this call (the first claim stands); the next
-- release grants the lock to that call directly (see lock_release), so nobody can
-- barge in between.
--
-- Returns {1, fence, depth} when the caller holds the lock (fence: fencing token of
-- this hold, depth: re-entrancy depth), {0, pttl, claimed} when it is busy (claimed:
-- 1 when this call holds the claim on the next release, else 0).  A grant found
-- already made for this request (a retry, or a release's direct grant) gets at least
-- `lease` left, so the caller may time its lease from when it sent this call.
-- Invariant: a retry of an applied call (same req) returns the same grant and never
-- increments the depth twice; the fencing counter grows only on a free->held grant.
local lock, fence, waiters, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local owner, req = ARGV[1], ARGV[2]
local lease, wait, waited = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local reqf = '@' .. owner
local claim = ARGV[3] .. '#' .. req .. '#' .. owner

local mine = redis.call('HMGET', lock, reqf, owner)
if mine[1] == req then
  if redis.call('PTTL', lock) < lease then
    redis.call('PEXPIRE', lock, lease)
  end
  redis.call('DEL', wake)
  return {1, tonumber(redis.call('HGET', fence, 'n')), tonumber(mine[2])}
end

if mine[2] or redis.call('EXISTS', lock) == 0 then
  local depth = 1
  local n
  if mine[2] then
    depth = tonumber(mine[2]) + 1
    n = tonumber(redis.call('HGET', fence, 'n'))
    redis.call('HSET', lock, owner, depth, reqf, req)
    if redis.call('PTTL', lock) < lease then
      redis.call('PEXPIRE', lock, lease)
    end
  else
    n = redis.call('HINCRBY', fence, 'n', 1)
    redis.call('HSET', lock, owner, depth, reqf, req)
    redis.call('PEXPIRE', lock, lease)
  end
  if waited > 0 then
    redis.call('ZREM', waiters, owner)
    if waited == 2 and redis.call('HGET', fence, 'hungry') == claim then
      redis.call('HDEL', fence, 'hungry')
    end
  end
  return {1, n, depth}
end

local claimed = 0
if waited == 2 then
  local c = redis.call('HGET', fence, 'hungry')
  if not c then
    redis.call('HSET', fence, 'hungry', claim)
    c = claim
  end
  if c == claim then
    claimed = 1
    wait = math.min(wait, tonumber(ARGV[6]))
  end
end
if wait > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', waiters, now + wait, owner)
  if redis.call('PTTL', waiters) < wait then
    redis.call('PEXPIRE', waiters, wait)
  end
end
return {0, redis.call('PTTL', lock), claimed}
