-- queue_pop: take up to n items from a list queue without blocking, atomically:
-- promote due delayed items first, never hand out wake markers, wake a waiting
-- putter when space was made; optionally move the items into an in-flight list.
--
-- KEYS[1] queue      list of envelopes; may also hold wake markers ('') at its right end
-- KEYS[2] meta       hash {shutdown, ...}
-- KEYS[3] delayed    zset envelope -> due time (server ms)
-- KEYS[4] putters    zset 'putter|need' -> registration deadline (server ms)
-- KEYS[5] space      list: one element wakes one putter
-- KEYS[6] consumers  zset consumer -> heartbeat deadline (server ms)
-- KEYS[7] inflight   list: the caller's in-flight messages (reserve only)
-- ARGV[1] n          most items to take (>= 1)
-- ARGV[2] lifo       '1': take the newest (LPOP), else the oldest (RPOP)
-- ARGV[3] maxsize    0 = unbounded (no putter can be waiting)
-- ARGV[4] consumer   consumer id ('' = plain get)
-- ARGV[5] lease      consumer lease in ms
--
-- Returns {1, envelope...} or {0, shutdown 0/1, ms until the next due item or -1}.
-- A shut-down queue whose delayed set still holds items answers shutdown 0: its
-- getters wait for those items (the due time tells them how long), then drain them.
-- Putters are woken as wake_putters decides for the slots now free.
local queue, meta, delayed, putters, space = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local consumers, inflight = KEYS[6], KEYS[7]
local n, lifo, maxsize = tonumber(ARGV[1]), ARGV[2] == '1', tonumber(ARGV[3])
local consumer, lease = ARGV[4], tonumber(ARGV[5])
-- @include wake_putters

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nextdue = -1
if redis.call('EXISTS', delayed) == 1 then
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)
  if #due > 0 then
    redis.call('LPUSH', queue, unpack(due))
    redis.call('ZREM', delayed, unpack(due))
  end
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if first[2] then nextdue = math.max(tonumber(first[2]) - now, 0) end
end
local got = {}
local skipped = 0
while #got < n and skipped < 1000 do
  local item
  if lifo then item = redis.call('LPOP', queue) else item = redis.call('RPOP', queue) end
  if not item then break end
  if item == '' then
    skipped = skipped + 1
  else
    if consumer ~= '' then redis.call('LPUSH', inflight, item) end
    got[#got + 1] = item
  end
end
if #got == 0 then
  local shut = redis.call('HGET', meta, 'shutdown') and nextdue < 0 and 1 or 0
  return {0, shut, nextdue}
end
if consumer ~= '' then
  redis.call('ZADD', consumers, now + lease, consumer)
end
if maxsize > 0 and redis.call('EXISTS', putters) == 1 then
  local len = redis.call('LLEN', queue)
  if len > 0 then len = len - #redis.call('LPOS', queue, '', 'RANK', -1, 'COUNT', 0, 'MAXLEN', 1000) end
  wake_putters(putters, space, maxsize - len - redis.call('ZCARD', delayed), now)
end
table.insert(got, 1, 1)
return got
