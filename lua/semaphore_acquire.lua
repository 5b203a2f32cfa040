-- semaphore_acquire: take one permit, atomically.  Reclaims permits whose lease
-- ended; a registered waiter first takes a permit handed off to waiters by release;
-- anyone takes a free permit; otherwise the caller is registered as a waiter.
--
-- KEYS[1] permits   zset "<owner>/<permit id>" or "~h:<n>" (handoff) -> lease deadline
--                   (server ms); PEXPIRE >= the longest remaining lease
-- KEYS[2] meta      hash {initial, capacity, kind, seq} (see semaphore_init)
-- KEYS[3] waiters   zset waiter id -> registration deadline (server ms)
-- KEYS[4] handoffs  zset "~h:<n>" -> deadline: permits released to waiters, not yet taken
-- KEYS[5] wake      list of this call only; pushed when ARGV[6] is 1 and the call
--                   does not leave the caller waiting (ends a pipelined BLPOP at once)
-- ARGV[1] permit    member of the new permit, "<owner>/<permit id>"; same value on a
--                   retry; also the waiter id
-- ARGV[2] lease     lease in milliseconds
-- ARGV[3] wait      milliseconds to stay registered when busy (0 = unregister)
-- ARGV[4] value     the caller's initial value (stored when the settings are missing)
-- ARGV[5] kind      'semaphore' or 'bounded'
-- ARGV[6] push      1 = push KEYS[5] unless busy
--
-- Returns {1, in_use} granted (in_use counts this permit), {0, bound} busy (bound:
-- ms until the earliest lease or handoff ends, -1 when none), {-1, initial, kind}
-- when the stored settings differ from the caller's (nothing else written).
-- Invariant: ZCARD(permits) <= capacity after every grant; a retried call (same
-- permit id) is granted at most once; newcomers never take a handed-off permit.
local permits, meta, waiters, handoffs, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local member, lease, wait = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local value, kind, push = ARGV[4], ARGV[5], ARGV[6] == '1'

local function done(reply)
  if push then
    redis.call('LPUSH', wake, '1')
    redis.call('PEXPIRE', wake, 60000)
  end
  return reply
end

local f = redis.call('HMGET', meta, 'initial', 'kind', 'capacity')
if not f[1] then
  redis.call('HSET', meta, 'initial', value, 'capacity', value, 'kind', kind)
  f = {value, kind, value}
elseif f[1] ~= value or f[2] ~= kind then
  return done({-1, f[1], f[2] or ''})
end
local capacity = tonumber(f[3]) or tonumber(value)

if redis.call('ZSCORE', permits, member) then
  return done({1, redis.call('ZCARD', permits)})
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', handoffs, '-inf', now)
redis.call('ZREMRANGEBYSCORE', permits, '-inf', now)

local grant = false
if redis.call('ZSCORE', waiters, member) then
  local h = redis.call('ZRANGE', handoffs, 0, 0)[1]
  if h then
    redis.call('ZREM', handoffs, h)
    redis.call('ZREM', permits, h)
    grant = true
  end
end
local used = redis.call('ZCARD', permits)
if grant or used < capacity then
  redis.call('ZADD', permits, now + lease, member)
  if redis.call('PTTL', permits) < lease then
    redis.call('PEXPIRE', permits, lease)
  end
  redis.call('ZREM', waiters, member)
  return done({1, used + 1})
end

if wait > 0 then
  redis.call('ZADD', waiters, now + wait, member)
  if redis.call('PTTL', waiters) < wait then
    redis.call('PEXPIRE', waiters, wait)
  end
else
  redis.call('ZREM', waiters, member)
end
local first = redis.call('ZRANGE', permits, 0, 0, 'WITHSCORES')
if first[2] then
  return {0, tonumber(first[2]) - now}
end
return {0, -1}
