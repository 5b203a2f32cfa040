-- semaphore_release: return permits held by the caller and optionally raise the
-- capacity, atomically; then hand free permits to waiters: to unfair ones as
-- handoffs (reserved permits a registered waiter takes) plus one signal each, to
-- fair ones by reporting the first `free` of the line to the caller.
--
-- KEYS[1] permits   zset "<owner>/<permit id>" or "~h:<n>" -> lease deadline (server ms)
-- KEYS[2] meta      hash {initial, capacity, kind, seq}
-- KEYS[3] waiters   zset unfair waiter id -> registration deadline (server ms)
-- KEYS[4] signal    list; one element wakes one unfair waiter (BLPOP)
-- KEYS[5] done      string; marks that this request's capacity raise was applied
-- KEYS[6] handoffs  zset "~h:<n>" -> deadline: handed-off permits not yet taken
-- KEYS[7] line      zset fair waiter id -> arrival number
-- KEYS[8] tickets   zset fair waiter id -> ticket deadline (server ms)
-- ARGV[1] extra     permits to add to the capacity (0 unless the caller releases more
--                   than it holds; never for kind 'bounded')
-- ARGV[2] sigttl    milliseconds a wake-up signal may wait to be taken
-- ARGV[3] markttl   milliseconds the `done` mark lives (longer than any retry)
-- ARGV[4] handoff   milliseconds a handed-off permit waits for a waiter to take it
-- ARGV[5] value     the caller's initial value (stored when the settings are missing)
-- ARGV[6] kind      'semaphore' or 'bounded'
-- ARGV[7..] permit members to return (at most 1000; the caller chunks)
--
-- Returns {1, removed, waiter...} (removed: how many of the given permits were still
-- held; waiters: fair waiters the caller must wake), {-1, initial, kind} when the
-- stored settings differ, {-2} for a capacity raise of a bounded semaphore.
-- Invariants: a retried call (same `done` key) raises the capacity once; ZCARD(permits)
-- <= capacity (handoffs included); a bounded semaphore's capacity never exceeds its
-- initial value; nothing is written on -1/-2.
local permits, meta, waiters, signal = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local done, handoffs, line, tickets = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local extra, sigttl, markttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window, value, kind = tonumber(ARGV[4]), ARGV[5], ARGV[6]

local f = redis.call('HMGET', meta, 'initial', 'kind')
if f[1] and (f[1] ~= value or f[2] ~= kind) then
  return {-1, f[1], f[2] or ''}
end
if extra > 0 and kind == 'bounded' then
  return {-2}
end
if not f[1] then
  redis.call('HSET', meta, 'initial', value, 'capacity', value, 'kind', kind)
end

local removed = 0
for i = 7, #ARGV do
  removed = removed + redis.call('ZREM', permits, ARGV[i])
end
local freed = removed
if extra > 0 and redis.call('EXISTS', done) == 0 then
  redis.call('HINCRBY', meta, 'capacity', extra)
  redis.call('SET', done, '1', 'PX', markttl)
  freed = freed + extra
end
if freed == 0 then
  return {1, removed}
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now)
redis.call('ZREMRANGEBYSCORE', handoffs, '-inf', now)
redis.call('ZREMRANGEBYSCORE', permits, '-inf', now)
local capacity = tonumber(redis.call('HGET', meta, 'capacity'))
local free = capacity - redis.call('ZCARD', permits)
local hand = math.min(free, redis.call('ZCARD', waiters) - redis.call('ZCARD', handoffs))
for _ = 1, hand do
  local h = '~h:' .. redis.call('HINCRBY', meta, 'seq', 1)
  redis.call('ZADD', permits, now + window, h)
  redis.call('ZADD', handoffs, now + window, h)
  redis.call('LPUSH', signal, '1')
end
if hand > 0 then
  redis.call('PEXPIRE', signal, sigttl)
  redis.call('PEXPIRE', handoffs, window)
  if redis.call('PTTL', permits) < window then
    redis.call('PEXPIRE', permits, window)
  end
  free = free - hand
end

local reply = {1, removed}
if free > 0 and redis.call('EXISTS', line) == 1 then
  local heads = redis.call('ZRANGE', line, 0, math.min(free, 100) - 1)
  for i = 1, #heads do
    reply[#reply + 1] = heads[i]
  end
end
return reply
