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
-- KEYS[6] attempts  hash member -> deliveries (set queues); 'deliveries|score' while a
--                   member nacked with a delay waits (see zpromote)
-- ARGV[1] bound     ms the following pop may block
-- ARGV[2] mode      'pq' | 'fifo' | 'lifo'
-- ARGV[3] getter    getter id to register for 60 s ('' = registered already)
--
-- Returns {shutdown 0/1, ms until the next delayed item is due or -1, items waiting};
-- a WRONGTYPE error (nothing written) when KEYS[1] holds another Redis type.  A
-- shut-down queue whose delayed set still holds items answers shutdown 0: its getters
-- wait for those items (until the next due time), then drain them.
-- Set queues: while items wait or are delayed, the TTL of KEYS[6] is renewed (see
-- queue_zrequeue: it only expires after a week without any get).
-- Promoted delayed items get a fresh stamp, redelivered ones keep theirs (see queue_zpop).
local queue, meta, delayed, getters, ready, attempts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local bound, mode, getter = tonumber(ARGV[1]), ARGV[2], ARGV[3]

-- @include clock
-- @include zpromote

local shut = redis.call('HGET', meta, 'shutdown') and 1 or 0
local nextdue = -1
if redis.call('EXISTS', delayed) == 1 then
  nextdue = promote_due(queue, meta, delayed, attempts, mode, clock())
end
local items = redis.call('ZCARD', queue) -- before any write of its own (WRONGTYPE: none)
if shut == 1 and nextdue >= 0 then
  shut = 0 -- delayed items are still to be handed out: wait for them
end
if getter ~= '' then
  redis.call('ZADD', getters, clock() + 60000, getter)
  redis.call('PEXPIRE', getters, 70000)
end
if mode ~= 'pq' and (items > 0 or nextdue >= 0) then
  redis.call('PEXPIRE', attempts, 604800000) -- (a no-op when there is no count)
end
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
