-- queue_space: after items left a bounded queue, wake as many waiting putters as
-- there is room for (one element of the space list wakes one putter).
--
-- KEYS[1] queue     the queue (list or zset)
-- KEYS[2] delayed   zset envelope -> due time (server ms)
-- KEYS[3] putters   zset putter -> registration deadline (server ms)
-- KEYS[4] space     list of wake-ups for putters
-- ARGV[1] maxsize   > 0
-- ARGV[2] zset      '1' when the queue is a zset
--
-- Returns the number of putters woken.
local queue, delayed, putters, space = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local maxsize, zset = tonumber(ARGV[1]), ARGV[2] == '1'

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', putters, '-inf', now)
local w = redis.call('ZCARD', putters)
if w == 0 then
  return 0
end
local len
if zset then
  len = redis.call('ZCARD', queue)
else
  len = redis.call('LLEN', queue)
  if len > 0 then len = len - #redis.call('LPOS', queue, '', 'RANK', -1, 'COUNT', 0, 'MAXLEN', 1000) end
end
local free = maxsize - len - redis.call('ZCARD', delayed)
local push = math.min(free, w) - redis.call('LLEN', space)
for _ = 1, push do redis.call('LPUSH', space, '1') end
if push > 0 then redis.call('PEXPIRE', space, 60000) end
return math.max(push, 0)
