-- semaphore_acquire: take one permit, atomically: reclaim permits whose lease ended,
-- grant if fewer than `capacity` are held, else register the caller as a waiter.
--
-- KEYS[1] permits  zset "<owner>/<permit id>" -> lease deadline (server ms);
--                  PEXPIRE >= the longest remaining lease, so it vanishes when idle
-- KEYS[2] meta     hash {initial, capacity, kind, seq} (see semaphore_init)
-- KEYS[3] waiters  zset waiter id -> registration deadline (server ms)
-- ARGV[1] permit   member of the new permit, "<owner>/<permit id>"; same value on a
--                  retry; also the waiter id
-- ARGV[2] lease    lease in milliseconds
-- ARGV[3] wait     milliseconds to stay registered as a waiter when busy (0 = don't)
-- ARGV[4] value    the caller's initial value (stored when the settings are missing)
-- ARGV[5] kind     'semaphore' or 'bounded'
--
-- Returns {1, in_use} granted (in_use counts this permit), {0, bound} busy (bound:
-- ms until the earliest lease ends, -1 when no permit is held), {-1, initial, kind}
-- when the stored settings differ from the caller's.
-- Invariant: ZCARD(permits) <= capacity after every grant; a retried call (same
-- permit id) is granted at most once.
local permits, meta, waiters = KEYS[1], KEYS[2], KEYS[3]
local member, lease, wait = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local value, kind = ARGV[4], ARGV[5]

local f = redis.call('HMGET', meta, 'initial', 'kind', 'capacity')
if not f[1] then
  redis.call('HSET', meta, 'initial', value, 'capacity', value, 'kind', kind)
  f = {value, kind, value}
elseif f[1] ~= value or f[2] ~= kind then
  return {-1, f[1], f[2] or ''}
end
local capacity = tonumber(f[3]) or tonumber(value)

if redis.call('ZSCORE', permits, member) then
  return {1, redis.call('ZCARD', permits)}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', permits, '-inf', now)
local used = redis.call('ZCARD', permits)
if used < capacity then
  redis.call('ZADD', permits, now + lease, member)
  if redis.call('PTTL', permits) < lease then
    redis.call('PEXPIRE', permits, lease)
  end
  redis.call('ZREM', waiters, member)
  return {1, used + 1}
end

if wait > 0 then
  redis.call('ZADD', waiters, now + wait, member)
  if redis.call('PTTL', waiters) < wait then
    redis.call('PEXPIRE', waiters, wait)
  end
end
local first = redis.call('ZRANGE', permits, 0, 0, 'WITHSCORES')
if first[2] then
  return {0, tonumber(first[2]) - now}
end
return {0, -1}
