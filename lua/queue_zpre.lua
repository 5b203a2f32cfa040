-- queue_zpre: prepare a native blocking pop (BZPOPMIN queue ready) on a zset queue,
-- atomically: promote due delayed items, (re)register the caller as a getter, drop
-- attempt counts when nothing waits, and make sure the pop that follows in the same
-- pipeline returns at once when the queue is shut down and empty, or when a delayed
-- item falls due before that pop would end.
--
-- KEYS[1] queue     zset (see queue_zput)
-- KEYS[2] meta      hash {shutdown, seq (last stamp), ...}
-- KEYS[3] delayed   zset member -> due time (server ms)
-- KEYS[4] getters   zset getter (thread of a queue object) -> registration expiry (ms)
-- KEYS[5] ready     zset of wake-ups for blocked getters and waiters
-- KEYS[6] attempts  hash member -> deliveries (set queues)
-- ARGV[1] bound     ms the following pop may block
-- ARGV[2] mode      'pq' | 'fifo' | 'lifo'
-- ARGV[3] getter    getter id to register for 60 s ('' = registered already)
--
-- Returns {shutdown 0/1, ms until the next delayed item is due or -1, items waiting}.
-- Promoted delayed items get a fresh stamp (see queue_zpop).
local queue, meta, delayed, getters, ready, attempts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local bound, mode, getter = tonumber(ARGV[1]), ARGV[2], ARGV[3]

local now
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end

local shut = redis.call('HGET', meta, 'shutdown') and 1 or 0
local nextdue = -1
if redis.call('EXISTS', delayed) == 1 then
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', clock(), 'LIMIT', 0, 1000)
  local last = #due > 0 and tonumber(redis.call('HGET', meta, 'seq') or '0')
  for i = 1, #due do
    local m = due[i]
    redis.call('ZREM', delayed, m)
    last = math.max(now * 1024, last + 1)
    if mode == 'pq' then
      local a = string.find(m, '|', 1, true)
      local b = string.find(m, '|', a + 1, true)
      local c = string.find(m, '|', b + 1, true)
      local prio = string.sub(m, b + 1, c - 1)
      if string.sub(m, a + 1, b - 1) == '0' then m = string.format('%014x', last) .. string.sub(m, a) end
      redis.call('ZADD', queue, prio, m)
    else
      redis.call('ZADD', queue, 'NX', string.format('%.0f', mode == 'lifo' and -last or last), m)
    end
  end
  if #due > 0 then redis.call('HSET', meta, 'seq', string.format('%.0f', last)) end
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if first[2] then nextdue = math.max(tonumber(first[2]) - clock(), 0) end
end
if getter ~= '' then
  redis.call('ZADD', getters, clock() + 60000, getter)
  redis.call('PEXPIRE', getters, 70000)
end
local items = redis.call('ZCARD', queue)
if items == 0 then
  if nextdue < 0 and mode ~= 'pq' then
    redis.call('DEL', attempts) -- nothing waits: no attempt count is needed
  end
  if shut == 1 or (nextdue >= 0 and nextdue + 20 < bound) then
    redis.call('ZADD', ready, 0, 'w1')
    redis.call('PEXPIRE', ready, 60000)
  end
end
return {shut, nextdue, items}
