-- queue_ack: finish an in-flight message, atomically: remove it from its consumer's
-- in-flight list and count one task done (waking join() waiters at zero).
--
-- KEYS[1] inflight  list: the consumer's in-flight messages
-- KEYS[2] meta      hash {unfinished, ...}
-- KEYS[3] joiners   zset join() waiter -> registration deadline (server ms)
-- KEYS[4] joined    list of wake-ups for join() waiters
-- ARGV[1] entry     the envelope as delivered
--
-- Returns 1 when acked now, 0 when the entry was no longer held (acked before, or
-- redelivered after its consumer's lease ran out).  Safe to retry.
-- Set queues: the attempt count in {K}:attempts is left alone: it belongs to the copy
-- of the member that waits (put again while this one was in flight), not to this one.
local inflight, meta, joiners, joined = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local entry = ARGV[1]

if redis.call('LREM', inflight, 1, entry) == 0 then
  return 0
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
