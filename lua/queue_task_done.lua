-- queue_task_done: count tasks done, atomically; wake join() waiters at zero.
--
-- KEYS[1] meta     hash {unfinished, ...}
-- KEYS[2] joiners  zset join() waiter -> registration deadline (server ms)
-- KEYS[3] joined   list of wake-ups for join() waiters
-- ARGV[1] n        tasks done (>= 1)
--
-- Returns the unfinished count left, or -1 (nothing changed) when that would go
-- below zero (task_done() called too many times).
local meta, joiners, joined = KEYS[1], KEYS[2], KEYS[3]
local n = tonumber(ARGV[1])

local u = tonumber(redis.call('HGET', meta, 'unfinished') or '0') - n
if u < 0 then
  return -1
end
if u > 0 then
  redis.call('HSET', meta, 'unfinished', u)
  return u
end
redis.call('HDEL', meta, 'unfinished')
if redis.call('EXISTS', joiners) == 0 then return 0 end  -- nobody in join()
local t = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', joiners, '-inf', tonumber(t[1]) * 1000)
local j = redis.call('ZCARD', joiners)
for _ = 1, math.min(j, 1000) do redis.call('LPUSH', joined, '1') end
if j > 0 then redis.call('PEXPIRE', joined, 60000); redis.call('DEL', joiners) end
return 0
