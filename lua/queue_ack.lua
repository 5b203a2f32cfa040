-- queue_ack: finish an in-flight message, atomically: remove it from its consumer's
-- in-flight list and count one task done (waking join() waiters at zero).
--
-- KEYS[1] inflight  list: the consumer's in-flight messages
-- KEYS[2] meta      hash {unfinished, ...}
-- KEYS[3] joiners   zset join() waiter -> registration deadline (server ms)
-- KEYS[4] joined    list of wake-ups for join() waiters
-- KEYS[5] attempts  hash member -> deliveries (set queues; unused otherwise)
-- ARGV[1] entry     the envelope as delivered
-- ARGV[2] member    set queues: the member whose attempt count to forget ('' = none)
--
-- Returns 1 when acked now, 0 when the entry was no longer held (acked before, or
-- redelivered after its consumer's lease ran out).  Safe to retry.
local inflight, meta, joiners, joined, attempts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local entry, member = ARGV[1], ARGV[2]

if redis.call('LREM', inflight, 1, entry) == 0 then
  return 0
end
if member ~= '' then
  redis.call('HDEL', attempts, member)
end
local u = redis.call('HINCRBY', meta, 'unfinished', -1)
if u <= 0 then
  redis.call('HDEL', meta, 'unfinished')
  if redis.call('EXISTS', joiners) == 0 then return 1 end  -- nobody in join(): spare 3 calls
  local t = redis.call('TIME')
  redis.call('ZREMRANGEBYSCORE', joiners, '-inf', tonumber(t[1]) * 1000)
  local j = redis.call('ZCARD', joiners)
  for _ = 1, math.min(j, 1000) do redis.call('LPUSH', joined, '1') end
  if j > 0 then redis.call('PEXPIRE', joined, 60000); redis.call('DEL', joiners) end
end
return 1
