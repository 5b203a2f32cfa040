-- queue_shutdown: shut a queue down for every object on its key, atomically
-- (Python 3.13 semantics): puts fail from now on; gets drain what is left, then
-- fail.  Immediate: drop every waiting item (each counts as a task done).  Wakes
-- blocked putters, getters and, at zero unfinished tasks, join() waiters.
--
-- KEYS[1] queue    list of envelopes / zset of members
-- KEYS[2] meta     hash {shutdown, unfinished, ...}
-- KEYS[3] delayed  zset -> due time (server ms)
-- KEYS[4] waiters  zset: getter objects (list queues) / blocked getters (zset queues)
-- KEYS[5] ready    list of wake-ups for getters of a zset queue
-- KEYS[6] joiners  zset join() waiter -> registration deadline (server ms)
-- KEYS[7] joined   list of wake-ups for join() waiters
-- KEYS[8] putters  zset putter -> registration deadline (server ms)
-- KEYS[9] space    list of wake-ups for putters
-- ARGV[1] immediate  '1' to drop the waiting items
-- ARGV[2] zset       '1' when the queue is a zset
--
-- Returns the number of items dropped.
local queue, meta, delayed, waiters, ready = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local joiners, joined, putters, space = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local immediate, zset = ARGV[1] == '1', ARGV[2] == '1'

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', meta, 'shutdown', '1')
local len
if zset then
  len = redis.call('ZCARD', queue)
else
  len = redis.call('LLEN', queue)
  if len > 0 then len = len - #redis.call('LPOS', queue, '', 'RANK', -1, 'COUNT', 0, 'MAXLEN', 1000) end
end
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
if len == 0 then
  redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now - 2000)
  local w = math.min(redis.call('ZCARD', waiters), 1000)
  if not zset then w = math.max(w, 1) - (redis.call('LLEN', queue) > 0 and 1 or 0) end
  for _ = 1, w do
    if zset then redis.call('LPUSH', ready, '1') else redis.call('RPUSH', queue, '') end
  end
  if w > 0 and zset then redis.call('PEXPIRE', ready, 60000) end
end
return dropped
