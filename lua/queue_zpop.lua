-- queue_zpop: take up to n items from a zset queue (lowest score first), atomically:
-- promote due delayed items, optionally move the items into the caller's in-flight
-- list, wake waiting putters; when empty, register the caller as a blocked getter.
--
-- KEYS[1] queue      zset (see queue_zput)
-- KEYS[2] meta       hash {shutdown, seq (last stamp), ...}
-- KEYS[3] delayed    zset member -> due time (server ms)
-- KEYS[4] waiters    zset blocked reserve() waiter -> time its wait ends (server ms)
-- KEYS[5] putters    zset 'putter|need' -> registration deadline (server ms)
-- KEYS[6] space      list of wake-ups for putters
-- KEYS[7] consumers  zset consumer -> heartbeat deadline (server ms)
-- KEYS[8] inflight   list: the caller's in-flight messages (reserve only)
-- KEYS[9] attempts   hash member -> deliveries of its waiting copy (set queues; dropped
--                    when nothing waits); 'deliveries|score' while a member nacked with a
--                    delay waits (zpromote).  A popped member's count leaves the hash (a
--                    reserve carries it in the envelope).  Its TTL (a week) is renewed
--                    after a pop (see queue_zrequeue).
-- ARGV[1] n          most items to take (>= 1)
-- ARGV[2] waiter     waiter id
-- ARGV[3] wait       ms to stay registered as a blocked getter when empty (0 = don't)
-- ARGV[4] consumer   consumer id ('' = plain get)
-- ARGV[5] lease      consumer lease in ms
-- ARGV[6] mode       'pq' | 'fifo' | 'lifo'
-- ARGV[7] maxsize    0 = unbounded
--
-- Returns {1, item...} (plain get: members; reserve: in-flight envelopes
-- 'id|deliveries|score|payload'), or {0, shutdown 0/1, ms until the next due item or -1}.
-- A shut-down queue whose delayed set still holds items answers shutdown 0 (and
-- registers the waiter): getters wait for those items, then drain them.
-- Promoted delayed items get a fresh stamp (see queue_zput), except redelivered ones
-- (nacked with a delay), which keep their stamp: it is their id.
-- Putters are woken as wake_putters decides for the slots now free.
local queue, meta, delayed, waiters, putters, space = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local consumers, inflight, attempts = KEYS[7], KEYS[8], KEYS[9]
local n, waiter, wait, consumer = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4]
local lease, mode, maxsize = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])

-- @include zpromote
-- @include wake_putters

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nextdue = -1
if redis.call('EXISTS', delayed) == 1 then
  nextdue = promote_due(queue, meta, delayed, attempts, mode, now)
end

local popped = redis.call('ZPOPMIN', queue, n)
if #popped == 0 then
  local shut = redis.call('HGET', meta, 'shutdown') and nextdue < 0 and 1 or 0
  if wait > 0 and shut == 0 then
    redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now - 2000)
    redis.call('ZADD', waiters, now + wait, waiter)
    if redis.call('PTTL', waiters) < wait + 3000 then redis.call('PEXPIRE', waiters, wait + 3000) end
  end
  if nextdue < 0 and mode ~= 'pq' then
    redis.call('DEL', attempts) -- nothing waits: no attempt count is needed
  end
  return {0, shut, nextdue}
end
if wait > 0 then
  redis.call('ZREM', waiters, waiter)
end
local out = {1}
for i = 1, #popped, 2 do
  local m, score = popped[i], popped[i + 1]
  local item = m
  if consumer ~= '' and mode ~= 'pq' then
    local d = redis.call('HGET', attempts, m) or '0'
    item = string.format('%012x', math.abs(tonumber(score))) .. '|' .. d .. '|' .. score .. '|' .. m
  end
  if consumer ~= '' then
    redis.call('LPUSH', inflight, item)
  end
  if mode ~= 'pq' then
    redis.call('HDEL', attempts, m)
  end
  out[#out + 1] = item
end
if mode ~= 'pq' then
  redis.call('PEXPIRE', attempts, 604800000) -- (a no-op when there is no count)
end
if consumer ~= '' then
  redis.call('ZADD', consumers, now + lease, consumer)
end
if maxsize > 0 and redis.call('EXISTS', putters) == 1 then
  local free = maxsize - redis.call('ZCARD', queue) - redis.call('ZCARD', delayed)
  wake_putters(putters, space, free, now)
end
return out
