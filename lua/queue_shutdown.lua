-- queue_shutdown: shut a queue down for every object on its key, atomically
-- (Python 3.13 semantics): puts fail from now on; gets drain what is left, then
-- fail.  Immediate: drop every waiting item (each counts as a task done).  Wakes
-- blocked putters, getters and, at zero unfinished tasks, join() waiters.
--
-- KEYS[1] queue    list of envelopes / zset of members
-- KEYS[2] meta     hash {shutdown: '1', or '2' after an immediate one; unfinished, ...}
-- KEYS[3] delayed  zset -> due time (server ms)
-- KEYS[4] getters  zset getter (thread of a queue object) -> registration expiry (ms)
-- KEYS[5] ready    zset queues: zset of wake-ups for blocked getters; list queues: unused
-- KEYS[6] joiners  zset join() waiter -> registration deadline (server ms)
-- KEYS[7] joined   list of wake-ups for join() waiters
-- KEYS[8] putters  zset putter -> registration deadline (server ms)
-- KEYS[9] space    list of wake-ups for putters
-- KEYS[10] waiters zset queues: reserve() waiters -> end of their wait; list queues: unused
-- ARGV[1] immediate  '1' to drop the waiting items
-- ARGV[2] layout     'fifo' | 'lifo' (list queues) | 'zset'
--
-- Returns the number of items dropped; a WRONGTYPE error (nothing written) when KEYS[1]
-- holds another Redis type.
-- List queues get one wake marker per registered getter at the end getters reach
-- last (left for FIFO, right for LIFO), so getters drain what is left, then wake.
-- Counting a list's items skips the markers at either end (within 1000 of it): a
-- second shutdown finds those of the first at the far end.
local queue, meta, delayed, getters, ready = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local joiners, joined, putters, space, waiters = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local immediate, layout = ARGV[1] == '1', ARGV[2]
local zset = layout == 'zset'
-- @include wake_getters

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local len -- read first: a main key of another type fails here, before any write
if zset then
  len = redis.call('ZCARD', queue)
else
  len = redis.call('LLEN', queue)
  if len > 0 then
    local all = len
    len = len - #redis.call('LPOS', queue, '', 'RANK', -1, 'COUNT', 0, 'MAXLEN', 1000)
    if all > 1000 then -- the head too (the far end), without counting a marker twice
      len = len - #redis.call('LPOS', queue, '', 'COUNT', 0, 'MAXLEN', math.min(1000, all - 1000))
    end
  end
end
-- '2' once shut down immediately (a later plain shutdown keeps it): messages still
-- reserved then are dropped when they come back (queue_requeue, queue_zrequeue)
local was = redis.call('HGET', meta, 'shutdown')
redis.call('HSET', meta, 'shutdown', (immediate or was == '2') and '2' or '1')
local dropped = 0
if immediate then
  dropped = len + redis.call('ZCARD', delayed)
  if dropped > 0 then
    redis.call('DEL', queue, delayed)
  end
  len = 0
  local u = tonumber(redis.call('HGET', meta, 'unfinished') or '0')
  u = math.max(u - dropped, 0)
  if u > 0 then
    redis.call('HSET', meta, 'unfinished', u)
  else
    redis.call('HDEL', meta, 'unfinished')
    redis.call('ZREMRANGEBYSCORE', joiners, '-inf', now)
    local j = redis.call('ZCARD', joiners)
    for _ = 1, math.min(j, 1000) do redis.call('LPUSH', joined, '1') end
    if j > 0 then redis.call('PEXPIRE', joined, 60000); redis.call('DEL', joiners) end
  end
end
redis.call('ZREMRANGEBYSCORE', putters, '-inf', now)
local p = redis.call('ZCARD', putters)
for _ = 1, math.min(p, 1000) do redis.call('LPUSH', space, '1') end
if p > 0 then redis.call('PEXPIRE', space, 60000) end
redis.call('ZREMRANGEBYSCORE', getters, '-inf', now)
local w = redis.call('ZCARD', getters)
if zset then
  redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now - 2000)
  local all = math.max(w + redis.call('ZCARD', waiters), 1)
  wake_getters(ready, all, all)
else
  w = math.min(math.max(w, 1), 1000)
  for _ = 1, w do
    if layout == 'lifo' then redis.call('RPUSH', queue, '') else redis.call('LPUSH', queue, '') end
  end
end
return dropped
