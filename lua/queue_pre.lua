-- queue_pre: prepare a blocking pop on a list queue, atomically: promote due delayed
-- items, register the caller as a waiter (and as a live consumer when reserving),
-- and make sure the pop that follows in the same pipeline returns at once when the
-- queue is shut down and empty, or when a delayed item falls due before it would.
--
-- KEYS[1] queue      list of envelopes, or only wake markers ('')
-- KEYS[2] meta       hash {shutdown, ...}
-- KEYS[3] delayed    zset envelope -> due time (server ms)
-- KEYS[4] waiters    zset waiter -> time its wait ends (server ms)
-- KEYS[5] consumers  zset consumer -> heartbeat deadline (server ms)
-- KEYS[6] inflight   list: the caller's in-flight messages (reserve only)
-- ARGV[1] waiter     waiter id
-- ARGV[2] bound      ms the following pop may block (0 = does not block)
-- ARGV[3] consumer   consumer id ('' = plain get)
-- ARGV[4] lease      consumer lease in ms
-- ARGV[5] drop       '1': remove wake markers the caller moved into its in-flight list
--
-- Returns {shutdown 0/1, ms until the next delayed item is due or -1}.
-- Invariant: wake markers are only pushed while the list holds no item.
local queue, meta, delayed, waiters = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local consumers, inflight = KEYS[5], KEYS[6]
local waiter, bound, consumer = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local lease, drop = tonumber(ARGV[4]), ARGV[5] == '1'

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local len = redis.call('LLEN', queue)
local marked = len > 0 and redis.call('LINDEX', queue, 0) == ''
local nextdue = -1
if redis.call('EXISTS', delayed) == 1 then
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)
  if #due > 0 then
    if marked then redis.call('DEL', queue); marked = false end
    redis.call('LPUSH', queue, unpack(due))
    redis.call('ZREM', delayed, unpack(due))
    len = redis.call('LLEN', queue)
  end
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if first[2] then nextdue = math.max(tonumber(first[2]) - now, 0) end
end
if drop then
  redis.call('LREM', inflight, 0, '')
end
if consumer ~= '' then
  redis.call('ZADD', consumers, now + lease, consumer)
end
local shut = redis.call('HGET', meta, 'shutdown') and 1 or 0
if (len == 0 or marked) and bound > 0 then
  if (shut == 1 or (nextdue >= 0 and nextdue + 20 < bound)) and len == 0 then
    redis.call('RPUSH', queue, '')
    redis.call('PEXPIRE', queue, 60000)
  end
  redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now - 2000)
  redis.call('ZADD', waiters, now + bound, waiter)
  if redis.call('PTTL', waiters) < bound + 3000 then redis.call('PEXPIRE', waiters, bound + 3000) end
end
return {shut, nextdue}
