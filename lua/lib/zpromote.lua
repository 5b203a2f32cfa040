-- zpromote: promote_due(queue, meta, delayed, attempts, mode, now) moves the delayed
-- items of a zset queue that are due (at most 1000 per call) into the queue, each with
-- a fresh stamp max(now * 1024, last stamp + 1), the last one kept in meta.seq (see
-- queue_zput); a PriorityQueue member keeps its priority, and a redelivered one
-- (deliveries > 0) its stamp, which is its id.  A redelivered set-queue member keeps
-- its stamp too: queue_zrequeue leaves it in attempts as 'deliveries|score', which
-- becomes 'deliveries' here.  Shared by queue_zpre and queue_zpop.
--
-- Each item is added to the queue before anything else is written, so a queue key of
-- another Redis type fails WRONGTYPE with nothing moved.
--
-- Returns (promote_due): ms until the next delayed item is due, or -1 when none is left.
local function promote_due(queue, meta, delayed, attempts, mode, now)
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)
  local last = #due > 0 and tonumber(redis.call('HGET', meta, 'seq') or '0')
  local stamped = false
  for i = 1, #due do
    local m = due[i]
    if mode == 'pq' then
      local a = string.find(m, '|', 1, true)
      local b = string.find(m, '|', a + 1, true)
      local c = string.find(m, '|', b + 1, true)
      local prio = string.sub(m, b + 1, c - 1)
      if string.sub(m, a + 1, b - 1) == '0' then
        last, stamped = math.max(now * 1024, last + 1), true
        m = string.format('%014x', last) .. string.sub(m, a)
      end
      redis.call('ZADD', queue, prio, m)
    else
      local kept = redis.call('HGET', attempts, m)
      local bar = kept and string.find(kept, '|', 1, true)
      if bar then
        redis.call('ZADD', queue, 'NX', string.sub(kept, bar + 1), m)
        redis.call('HSET', attempts, m, string.sub(kept, 1, bar - 1))
      else
        last, stamped = math.max(now * 1024, last + 1), true
        redis.call('ZADD', queue, 'NX', string.format('%.0f', mode == 'lifo' and -last or last), m)
      end
    end
    redis.call('ZREM', delayed, due[i])
  end
  if stamped then redis.call('HSET', meta, 'seq', string.format('%.0f', last)) end
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if first[2] then return math.max(tonumber(first[2]) - now, 0) end
  return -1
end
