-- lock_acquire: try to take (or re-enter) a lock, atomically; register the caller
-- as a waiter when it is busy.  Shared by Lock and RLock (unfair mode).
--
-- KEYS[1] lock     hash {owner: depth, "@"..owner: last request id}, PEXPIRE = lease
-- KEYS[2] fence    hash {n: fencing counter, seq: line counter, last: last release id}
-- KEYS[3] waiters  zset owner -> registration deadline (server ms)
-- ARGV[1] owner    owner id (Lock: one per acquire call; RLock: process+thread)
-- ARGV[2] req      request id of this acquire call (same value on a retry)
-- ARGV[3] lease    lease in milliseconds
-- ARGV[4] wait     milliseconds to stay registered as a waiter when busy (0 = don't)
-- ARGV[5] waited   0: first attempt of this call; 1: an earlier attempt registered
--                  as a waiter; 2: and it has been waiting long (it is "hungry")
--
-- Starvation mode (as Go's sync.Mutex): newcomers may barge in, which is fast, but a
-- hungry waiter claims fence.hungry = its owner id (the first claim stands); the next
-- release then hands the free lock to that owner: until fence.hand (server ms) passes,
-- only fence.handto may take it, and everyone else registers as a waiter instead.
--
-- Returns {1, fence, depth} when the caller holds the lock (fence: fencing token of
-- this hold, depth: re-entrancy depth), {0, ms} when it is busy: the holder's pttl,
-- or how long the pending handoff still excludes the caller.
-- Invariant: a retry of an applied call (same req) returns the same grant and never
-- increments the depth twice; the fencing counter grows only on a free->held grant.
local lock, fence, waiters = KEYS[1], KEYS[2], KEYS[3]
local owner, req = ARGV[1], ARGV[2]
local lease, wait, waited = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local reqf = '@' .. owner
local now
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end

local mine = redis.call('HMGET', lock, reqf, owner)
if mine[1] == req then
  return {1, tonumber(redis.call('HGET', fence, 'n')), tonumber(mine[2])}
end

local free = not mine[2] and redis.call('EXISTS', lock) == 0
local hold = -1 -- ms the caller must still stand back for a handoff to someone else
local hungry
if free then
  local h = redis.call('HMGET', fence, 'hand', 'handto', 'hungry')
  hungry = h[3]
  if h[1] then
    if h[2] ~= owner and tonumber(h[1]) > clock() then
      hold, free = tonumber(h[1]) - clock(), false
    else
      redis.call('HDEL', fence, 'hand', 'handto')
    end
  end
end

if mine[2] or free then
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
  end
  if hungry == owner then
    redis.call('HDEL', fence, 'hungry')
  end
  return {1, n, depth}
end

if waited == 2 then
  redis.call('HSETNX', fence, 'hungry', owner)
end
if wait > 0 then
  redis.call('ZADD', waiters, clock() + wait, owner)
  if redis.call('PTTL', waiters) < wait then
    redis.call('PEXPIRE', waiters, wait)
  end
end
if hold >= 0 then
  return {0, hold}
end
return {0, redis.call('PTTL', lock)}
