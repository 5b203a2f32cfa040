-- queue_zrequeue: put messages back into a zset queue, atomically: a nack (one
-- in-flight message), a reap (every message of a dead consumer) or a replay of dead
-- letters.  Each redelivery counts an attempt; a message that reached max_attempts
-- goes to the dead letters instead (and stops counting as an unfinished task).
--
-- KEYS[1] queue      zset (see queue_zput)
-- KEYS[2] meta       hash {max_attempts, unfinished, seq (last stamp), ...}
-- KEYS[3] delayed    zset member -> due time (server ms)
-- KEYS[4] dead       list of dead-lettered envelopes 'id|deliveries|score|payload'
-- KEYS[5] joiners    zset join() waiter -> registration deadline (server ms)
-- KEYS[6] joined     list of wake-ups for join() waiters
-- KEYS[7] consumers  zset consumer -> heartbeat deadline (server ms)
-- KEYS[8] source     the in-flight list (nack, reap) or the dead letters (replay)
-- KEYS[9] waiters    zset blocked reserve() waiter -> time its wait ends (server ms)
-- KEYS[10] ready     zset of wake-ups for blocked getters and waiters
-- KEYS[11] attempts  hash member -> deliveries of its waiting copy (set queues);
--                    'deliveries|score' for a member nacked with a delay (its stamp,
--                    restored when it is due).  Its TTL is renewed to a week whenever
--                    this script writes it, and by queue_zpre / queue_zpop while items
--                    wait (a native pop never clears a count: an idle queue's hash
--                    goes away on its own)
-- KEYS[12] getters   zset getter (thread of a queue object) -> registration expiry (ms)
-- ARGV[1] mode       'one' (nack ARGV[4]), 'all' (every message of source), 'reap' ('all',
--                    but only while ARGV[2]'s lease has run out), 'replay'
-- ARGV[2] consumer   all / reap: the consumer to forget once its list is empty
-- ARGV[3] delay      ms before a nacked message may be delivered again (0 = now)
-- ARGV[4] entry      nack: the envelope to take back
-- ARGV[5] qmode      'pq' | 'fifo' | 'lifo'
-- ARGV[6] limit      most messages moved by this call ('all', 'replay')
--
-- Returns {requeued, dead_lettered, left in source, dropped (shut down immediately:
-- see below)}, or {-1} when a nacked entry is
-- no longer held; a WRONGTYPE error (nothing moved) when KEYS[1] holds another type.
-- A redelivery keeps the message's place (its stamp); a replay gives it a fresh stamp
-- (a new arrival; for a PriorityQueue also a new id).  A reap of a
-- consumer whose heartbeat deadline lies in the future (it renewed after the reaper saw
-- it expired) moves nothing: {0, 0, left}.
-- Set queues: a member that waits already (put again while it was in flight, or dead)
-- absorbs the message given back (counted as requeued): the waiting copy keeps its
-- place and counts the larger of the two's deliveries (the absorbed message goes on
-- as that copy: never more than max_attempts deliveries), and the unfinished-task
-- count loses the absorbed one (a redelivery) or does not gain it (a replay).  A
-- dead-lettered message leaves the attempt count alone: it is the waiting copy's.
local queue, meta, delayed, dead, joiners, joined = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local consumers, source, waiters, ready, attempts = KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local getters = KEYS[12]
local mode, consumer, delay, entry = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local qmode, limit = ARGV[5], tonumber(ARGV[6])
-- @include wake_getters

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxatt = tonumber(redis.call('HGET', meta, 'max_attempts') or '0')
redis.call('ZCARD', queue) -- a queue key of another type fails here, before a message leaves its source
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
    todo[#todo + 1] = e
  end
end

local last
local function stamp()
  last = math.max(now * 1024, (last or tonumber(redis.call('HGET', meta, 'seq') or '0')) + 1)
  return last
end
local requeued, deadn, merged, dropped = 0, 0, 0, 0
for i = 1, #todo do
  local e = todo[i]
  local a = string.find(e, '|', 1, true)
  local b = string.find(e, '|', a + 1, true)
  local c = string.find(e, '|', b + 1, true)
  local d = mode == 'replay' and 0 or tonumber(string.sub(e, a + 1, b - 1)) + 1
  local score, payload = string.sub(e, b + 1, c - 1), string.sub(e, c + 1)
  local env = string.sub(e, 1, a) .. d .. string.sub(e, b)
  if mode == 'replay' and qmode == 'pq' then env = string.format('%014x', stamp()) .. string.sub(env, a) end
  local member = qmode == 'pq' and env or payload
  if dropping then
    dropped = dropped + 1
  elseif mode ~= 'replay' and maxatt > 0 and d >= maxatt then
    redis.call('LPUSH', dead, env)
    deadn = deadn + 1
  elseif qmode ~= 'pq' and (redis.call('ZSCORE', queue, payload) or redis.call('ZSCORE', delayed, payload)) then
    merged = merged + 1 -- waiting already: one member, one task
    local kept = redis.call('HGET', attempts, payload) or '0'
    local bar = string.find(kept, '|', 1, true)
    if d > tonumber(bar and string.sub(kept, 1, bar - 1) or kept) then
      redis.call('HSET', attempts, payload, bar and d .. string.sub(kept, bar) or d)
    end
  else
    if mode == 'replay' and qmode ~= 'pq' then
      score = string.format('%.0f', qmode == 'lifo' and -stamp() or stamp())
    end
    if delay > 0 and mode ~= 'replay' then
      redis.call('ZADD', delayed, now + delay, member)
    else
      redis.call('ZADD', queue, 'NX', score, member)
    end
    if qmode ~= 'pq' and delay > 0 and mode ~= 'replay' then
      redis.call('HSET', attempts, payload, d .. '|' .. score) -- its stamp, for promote_due (zpromote)
    elseif qmode ~= 'pq' then
      if d > 0 then redis.call('HSET', attempts, payload, d) else redis.call('HDEL', attempts, payload) end
    end
    requeued = requeued + 1
  end
end

if last then redis.call('HSET', meta, 'seq', string.format('%.0f', last)) end
if qmode ~= 'pq' and requeued + merged > 0 then
  redis.call('PEXPIRE', attempts, 604800000) -- (a no-op when no count was written)
end
local change = (mode == 'replay' and requeued or 0) - deadn - dropped - (mode == 'replay' and 0 or merged)
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
if requeued > 0 then
  redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now - 2000)
  local w, cap
  if delay > 0 and mode ~= 'replay' then
    w = redis.call('ZCOUNT', waiters, '(' .. (now + delay + 20), '+inf')
    if redis.call('ZCARD', queue) == 0 then w = w + redis.call('ZCOUNT', getters, now, '+inf') end
    cap = w
  else
    cap = redis.call('ZCARD', waiters)
    w = math.min(cap, requeued)
  end
  if w > 0 then wake_getters(ready, w, cap) end
end
local left = redis.call('LLEN', source)
if mode == 'all' and left == 0 and consumer ~= '' then
  redis.call('ZREM', consumers, consumer)
end
return {requeued + merged, deadn, left, dropped}
