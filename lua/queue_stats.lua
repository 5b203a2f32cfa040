-- queue_stats: read a queue's live state for statistics() in one step; writes nothing.
--
-- KEYS[1] queue      list of envelopes 'enqueued|id|deliveries|payload' (+ wake markers
--                    ''), or zset (see queue_zput)
-- KEYS[2] meta       hash {maxsize, shutdown, unfinished, ...}
-- KEYS[3] delayed    zset member -> due time (server ms)
-- KEYS[4] consumers  zset consumer -> heartbeat deadline (server ms)
-- KEYS[5] dead       list of dead letters
-- KEYS[6..] inflight lists of consumers the caller already knows (any number, or none)
-- ARGV[1] layout     'list' | 'pq' | 'fifo' | 'lifo'
--
-- Returns {now ms, depth, oldest enqueue time (ms, -1 when nothing is ready), delayed,
-- dead letters, unfinished, maxsize, shutdown 0/1, live consumers, LLEN of each
-- KEYS[6..] in order, then every registered consumer (at most 1000) as id, heartbeat
-- deadline (ms) pairs}.
-- depth counts ready items: waiting ones (markers excluded) plus delayed ones already
-- due (promoted lazily by the next get); delayed counts those not yet due.
-- Oldest: lists look at both ends (items enter at one end in time order; only a
-- redelivery or a late promotion can be older and hide inside); set queues read the
-- head (stamp order); a PriorityQueue the head of each of its first 64 priority levels.
local queue, meta, delayed, consumers, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local inflights = KEYS -- KEYS[6..]: in-flight lists
local layout = ARGV[1]

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local oldest = -1
local function seen(ms)
  if ms and (oldest < 0 or ms < oldest) then oldest = ms end
end
local function enqueued(e) -- list envelope -> its enqueue time, or nil
  local a = string.find(e, '|', 1, true)
  return a and tonumber(string.sub(e, 1, a - 1))
end

local depth
if layout == 'list' then
  local len = redis.call('LLEN', queue)
  depth = len
  if len > 0 then
    local markers = #redis.call('LPOS', queue, '', 'RANK', -1, 'COUNT', 0, 'MAXLEN', 1000)
    if len > 1000 then -- markers sit at either end
      markers = markers + #redis.call('LPOS', queue, '', 'COUNT', 0, 'MAXLEN', math.min(1000, len - 1000))
    end
    depth = len - markers
    if depth > 0 then
      local ends = redis.call('LRANGE', queue, -math.min(markers + 1, 1000), -1)
      ends[#ends + 1] = redis.call('LINDEX', queue, 0)
      for i = 1, #ends do
        if ends[i] ~= '' then seen(enqueued(ends[i])) end
      end
    end
  end
else
  depth = redis.call('ZCARD', queue)
  if depth > 0 and layout == 'fifo' then
    local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
    seen(math.floor(tonumber(head[2]) / 1024))
  elseif depth > 0 and layout == 'lifo' then
    local bottom = redis.call('ZRANGE', queue, -1, -1, 'WITHSCORES')
    seen(math.floor(-tonumber(bottom[2]) / 1024))
  elseif depth > 0 then
    local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
    for _ = 1, 64 do
      if not head[1] then break end
      local stamp = tonumber(string.sub(head[1], 1, (string.find(head[1], '|', 1, true) or 1) - 1), 16)
      if stamp then seen(math.floor(stamp / 1024)) end
      head = redis.call('ZRANGEBYSCORE', queue, '(' .. head[2], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    end
  end
end
local due = redis.call('ZCOUNT', delayed, '-inf', now)
if due > 0 then
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  seen(tonumber(first[2]))
end
local m = redis.call('HMGET', meta, 'unfinished', 'maxsize', 'shutdown')
local out = {now, depth + due, oldest, redis.call('ZCARD', delayed) - due, redis.call('LLEN', dead),
             tonumber(m[1] or '0'), tonumber(m[2] or '0'), m[3] and 1 or 0,
             redis.call('ZCOUNT', consumers, now, '+inf')}
for i = 6, #inflights do
  out[#out + 1] = redis.call('LLEN', inflights[i])
end
local ids = redis.call('ZRANGE', consumers, 0, 999, 'WITHSCORES')
for i = 1, #ids do out[#out + 1] = ids[i] end
return out
