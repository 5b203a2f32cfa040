-- queue_space: after items left a bounded queue, wake as many waiting putters as
-- the free slots can admit (one element of the space list wakes one putter; see
-- wake_putters: putters of different sizes are all woken when one of them fits).
--
-- KEYS[1] queue     the queue (list or zset)
-- KEYS[2] delayed   zset envelope -> due time (server ms)
-- KEYS[3] putters   zset 'putter|need' -> registration deadline (server ms)
-- KEYS[4] space     list of wake-ups for putters
-- ARGV[1] maxsize   > 0
-- ARGV[2] zset      '1' when the queue is a zset
--
-- Returns the number of putters woken.
local queue, delayed, putters, space = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local maxsize, zset = tonumber(ARGV[1]), ARGV[2] == '1'
-- @include wake_putters

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', putters) == 0 then
  return 0
end
local len
if zset then
  len = redis.call('ZCARD', queue)
else
  len = redis.call('LLEN', queue)
  if len > 0 then len = len - #redis.call('LPOS', queue, '', 'RANK', -1, 'COUNT', 0, 'MAXLEN', 1000) end
end
return wake_putters(putters, space, maxsize - len - redis.call('ZCARD', delayed), now)
