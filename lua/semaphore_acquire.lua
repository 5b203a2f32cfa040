-- semaphore_acquire: take one permit if one is free, atomically (after reclaiming
-- ended leases and handoffs nobody took in time); otherwise register the caller as
-- a waiter, to be served a handoff by release (see semaphore_release).
--
-- KEYS[1] permits   zset "<owner>/<n>" or "~h:<n>.<µs>" (handoff) -> lease deadline
--                   (server ms); PEXPIRE >= the longest remaining lease
-- KEYS[2] meta      hash {initial, capacity, kind, seq, maxlease: longest lease of a
--                   waiter} (see semaphore_init)
-- KEYS[3] waiters   zset waiter id -> registration deadline (server ms)
-- KEYS[4] handoffs  zset "~h:<n>.<µs>" -> take-by deadline: permits released to
--                   waiters, taken by a waiter's BZPOPMIN
-- KEYS[5] wake      zset of this call only: when ARGV[6] is 1 and the call does not
--                   leave the caller waiting, 'g' (granted) or 'c' (conflict) is added,
--                   so that a pipelined BZPOPMIN on it returns at once
-- ARGV[1] permit    member of the new permit, "<owner>/<n>" (same on a retry); also
--                   the waiter id
-- ARGV[2] lease     lease in milliseconds
-- ARGV[3] wait      milliseconds to stay registered when busy (0 = unregister)
-- ARGV[4] value     the caller's initial value (stored when the settings are missing)
-- ARGV[5] kind      'semaphore' or 'bounded'
-- ARGV[6] push      1 = add to KEYS[5] unless busy
--
-- Settings missing and KEYS[1] not a zset: a WRONGTYPE error naming KEYS[1], nothing
-- written.
-- Returns {1, in_use} granted, {0, bound} busy (bound: ms until the earliest lease
-- ends, -1 when none), {-1, initial, kind} when the stored settings differ.
-- Invariants: ZCARD(permits) <= capacity after every grant (handoffs count as held);
-- a retried call (same permit id) is granted at most once; a pending handoff's permit
-- lives at least `maxlease` past its take-by deadline (so whoever pops it in time
-- renews it in time), hence an ended handoff permit is always a stale handoff: both
-- are removed together (never the permit alone, which would leave a handoff that a
-- BZPOPMIN could still pop without a permit behind it); a caller that will not wait
-- (ARGV[3] = 0) also reclaims pending handoffs beyond the registered waiters.
local permits, meta, waiters, handoffs, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local member, lease, wait = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local value, kind, push = ARGV[4], ARGV[5], ARGV[6] == '1'

local function finish(reply)
  if push then
    redis.call('ZADD', wake, 0, reply[1] == 1 and 'g' or 'c')
    redis.call('PEXPIRE', wake, 60000)
  end
  return reply
end

-- @include wrong_type

local f = redis.call('HMGET', meta, 'initial', 'kind', 'capacity', 'maxlease')
if not f[1] then
  local err = wrong_type(permits, 'zset', 1)
  if err then return err end
  redis.call('HSET', meta, 'initial', value, 'capacity', value, 'kind', kind)
  f = {value, kind, value, false}
elseif f[1] ~= value or f[2] ~= kind then
  return finish({-1, f[1], f[2] or ''})
end
local capacity = tonumber(f[3]) or tonumber(value)

if redis.call('ZSCORE', permits, member) then
  return finish({1, redis.call('ZCARD', permits)})
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local used = redis.call('ZCARD', permits)
if used >= capacity then
  -- full: reclaim ended leases and handoffs nobody took in time (only now: every
  -- redis.call costs ~2 us, and a free permit needs no reclaiming).  Stale handoffs
  -- first, all of them, also on a pipelined first try: the ZREMRANGEBYSCORE below
  -- must not remove a handoff's permit while the handoff can still be popped.
  local stale
  repeat
    stale = redis.call('ZRANGEBYSCORE', handoffs, '-inf', now, 'LIMIT', 0, 100)
    for i = 1, #stale do
      redis.call('ZREM', permits, stale[i])
      redis.call('ZREM', handoffs, stale[i])
    end
  until #stale < 100
  if wait == 0 then
    -- a caller that will not wait: handoffs beyond the registered waiters will be
    -- popped by nobody registered now (a release that ran between a served waiter's
    -- pop and its unregistering ZREM made one too many); reclaim those, newest first,
    -- instead of leaving their permits reserved for the whole window.  A waiter that
    -- popped but has not unregistered yet is still counted: never too many reclaimed
    local surplus = redis.call('ZCARD', handoffs) - redis.call('ZCARD', waiters)
    if surplus > 0 then
      local extra = redis.call('ZRANGE', handoffs, -math.min(surplus, 100), -1)
      for i = 1, #extra do
        redis.call('ZREM', permits, extra[i])
        redis.call('ZREM', handoffs, extra[i])
      end
    end
  end
  used = redis.call('ZCARD', permits) - redis.call('ZREMRANGEBYSCORE', permits, '-inf', now)
end
if used < capacity then
  redis.call('ZADD', permits, now + lease, member)
  if redis.call('PTTL', permits) < lease then
    redis.call('PEXPIRE', permits, lease)
  end
  redis.call('ZREM', waiters, member)
  return finish({1, used + 1})
end

if wait > 0 then
  redis.call('ZADD', waiters, now + wait, member)
  if redis.call('PTTL', waiters) < wait then
    redis.call('PEXPIRE', waiters, wait)
  end
  if lease > (tonumber(f[4]) or 0) then
    -- handoffs must outlive the first renewal of whoever pops them: stretch the
    -- pending ones to this caller's lease past their take-by deadline (rare: only
    -- when the longest lease grows); never shorten one, never re-add a gone one
    redis.call('HSET', meta, 'maxlease', lease)
    local pending = redis.call('ZRANGE', handoffs, 0, 99, 'WITHSCORES')
    local top = now + lease
    for i = 1, #pending, 2 do
      local h, upto = pending[i], tonumber(pending[i + 1]) + lease
      local score = redis.call('ZSCORE', permits, h)
      if score and tonumber(score) < upto then
        redis.call('ZADD', permits, upto, h)
      end
      top = math.max(top, upto)
    end
    for _, k in ipairs({permits, handoffs}) do
      if redis.call('PTTL', k) < top - now then
        redis.call('PEXPIRE', k, top - now)
      end
    end
  end
else
  redis.call('ZREM', waiters, member)
end
if push then  -- the caller skips this reply
  return {0, -1}
end
local first = redis.call('ZRANGE', permits, 0, 0, 'WITHSCORES')
if first[2] then
  return {0, tonumber(first[2]) - now}
end
return {0, -1}
