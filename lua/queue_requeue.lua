-- queue_requeue: put messages back into a list queue, atomically: a nack (one
-- in-flight message), a reap (every message of a dead consumer) or a replay of dead
-- letters.  Each redelivery counts an attempt; a message that reached max_attempts
-- goes to the dead letters instead (and stops counting as an unfinished task).
--
-- KEYS[1] queue      list of envelopes 'enqueued|id|deliveries|payload' (+ wake markers)
-- KEYS[2] meta       hash {max_attempts, unfinished, ...}
-- KEYS[3] delayed    zset envelope -> due time (server ms)
-- KEYS[4] dead       list of dead-lettered envelopes (newest first)
-- KEYS[5] joiners    zset join() waiter -> registration deadline (server ms)
-- KEYS[6] joined     list of wake-ups for join() waiters
-- KEYS[7] consumers  zset consumer -> heartbeat deadline (server ms)
-- KEYS[8] source     the in-flight list (nack, reap) or the dead letters (replay)
-- KEYS[9] getters    zset getter (thread of a queue object) -> registration expiry (ms)
-- ARGV[1] mode       'one' (nack ARGV[4]), 'all' (every message of source), 'reap' ('all',
--                    but only while ARGV[2]'s lease has run out), 'replay'
-- ARGV[2] consumer   all / reap: the consumer to forget once its list is empty
-- ARGV[3] delay      ms before a nacked message may be delivered again (0 = now)
-- ARGV[4] entry      nack: the envelope to take back
-- ARGV[5] lifo       '1': the front of the queue is the left end
-- ARGV[6] limit      most messages moved by this call ('all', 'replay')
--
-- Returns {requeued, dead_lettered, left in source, dropped (shut down immediately:
-- see below)}, or {-1} when a nacked entry is
-- no longer held (already acked, or reaped after its consumer's lease ran out); a
-- WRONGTYPE error (nothing moved) when KEYS[1] holds another Redis type.
-- A reap of a consumer whose heartbeat deadline lies in the future (it renewed after
-- the reaper saw it expired) moves nothing: {0, 0, left}.
-- A redelivery keeps the message's id and enqueue time; a replay restarts the enqueue
-- time (the dead letter is a new arrival at the back of the queue).
local queue, meta, delayed, dead, joiners, joined = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local consumers, source, getters = KEYS[7], KEYS[8], KEYS[9]
local mode, consumer, delay, entry = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local lifo, limit = ARGV[5] == '1', tonumber(ARGV[6])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxatt = tonumber(redis.call('HGET', meta, 'max_attempts') or '0')
redis.call('LLEN', queue) -- a queue key of another type fails here, before a message leaves its source
-- after shutdown(immediate=True) nothing goes back: a replay moves nothing, and a
-- nack or a reap drops its messages, each counting as a task done (as the waiting
-- items were dropped)
local dropping = redis.call('HGET', meta, 'shutdown') == '2'
if dropping and mode == 'replay' then return {0, 0, redis.call('LLEN', source)} end

if mode == 'reap' then
  local deadline = redis.call('ZSCORE', consumers, consumer)
  if deadline and tonumber(deadline) > now then return {0, 0, redis.call('LLEN', source)} end
  mode = 'all'
end

local todo = {}
if mode == 'one' then
  if redis.call('LREM', source, 1, entry) == 0 then return {-1} end
  todo[1] = entry
else
  for _ = 1, limit do
    local e = redis.call('RPOP', source)
    if not e then break end
    if e ~= '' then todo[#todo + 1] = e end
  end
end

local requeued, deadn, dropped = 0, 0, 0
for i = 1, #todo do
  local e = todo[i]
  local a = string.find(e, '|', 1, true)
  local b = string.find(e, '|', a + 1, true)
  local c = string.find(e, '|', b + 1, true)
  local d = mode == 'replay' and 0 or tonumber(string.sub(e, b + 1, c - 1)) + 1
  local env = string.sub(e, 1, b) .. d .. string.sub(e, c)
  if mode == 'replay' then
    env = string.format('%.0f', now) .. string.sub(e, a, b) .. '0' .. string.sub(e, c)
  end
  if dropping then
    dropped = dropped + 1
  elseif mode ~= 'replay' and maxatt > 0 and d >= maxatt then
    redis.call('LPUSH', dead, env)
    deadn = deadn + 1
  elseif mode == 'replay' then
    redis.call('LPUSH', queue, env)
    requeued = requeued + 1
  elseif delay > 0 then
    redis.call('ZADD', delayed, now + delay, env)
    requeued = requeued + 1
  else
    if lifo then redis.call('LPUSH', queue, env) else redis.call('RPUSH', queue, env) end
    requeued = requeued + 1
  end
end

local change = (mode == 'replay' and requeued or 0) - deadn - dropped
if change ~= 0 then
  local u = redis.call('HINCRBY', meta, 'unfinished', change)
  if u <= 0 then
    redis.call('HDEL', meta, 'unfinished')
    redis.call('ZREMRANGEBYSCORE', joiners, '-inf', now)
    local j = redis.call('ZCARD', joiners)
    for _ = 1, math.min(j, 1000) do redis.call('LPUSH', joined, '1') end
    if j > 0 then redis.call('PEXPIRE', joined, 60000); redis.call('DEL', joiners) end
  end
end
if delay > 0 and requeued > 0 and redis.call('LLEN', queue) == 0 then
  -- blocked getters may wait past the new due time: wake each registered getter once
  local g = redis.call('ZCOUNT', getters, now, '+inf')
  for _ = 1, math.min(g, 1000) do redis.call('RPUSH', queue, '') end
end
local left = redis.call('LLEN', source)
if mode == 'all' and left == 0 and consumer ~= '' then
  redis.call('ZREM', consumers, consumer)
end
return {requeued, deadn, left, dropped}
