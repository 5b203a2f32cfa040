-- queue_zput: add items to a zset queue (PriorityQueue, SetQueue, LifoSetQueue), or
-- to its delayed set, atomically: shutdown and maxsize checks, insert-if-absent for
-- set queues, time stamps, unfinished-task count, retry guard, wake-ups.
--
-- KEYS[1] queue     zset. pq: 'stamp|deliveries|priority|payload' -> priority;
--                   set queues: payload -> stamp (FIFO) or -stamp (LIFO)
-- KEYS[2] meta      hash {shutdown, unfinished, seq (last stamp), ...}
-- KEYS[3] delayed   zset (same members) -> due time (server ms)
-- KEYS[4] producer  string: last request applied by this producer (retry guard)
-- KEYS[5] putters   zset 'putter|n' -> registration deadline (server ms); n: the
--                   items it waits to add (see wake_putters).  Set queues count the
--                   members not waiting yet, which may change between its tries: an
--                   entry left by an earlier try lasts until its deadline (at worst a
--                   spare wake-up)
-- KEYS[6] waiters   zset reserve() waiter -> time its wait ends (server ms)
-- KEYS[7] ready     zset of wake-ups for blocked getters and waiters
-- KEYS[8] attempts  hash member -> deliveries (set queues)
-- KEYS[9] getters   zset getter (thread of a queue object) -> registration expiry (ms)
-- ARGV[1] request   '' (no retry guard) or '[?]n', and ARGV[2] guard '' or '[+]ttl'
--                   (see lib/request)
-- ARGV[3] maxsize   0 = unbounded
-- ARGV[4] wait      ms to register ARGV[5] as a putter when full (0 = don't)
-- ARGV[5] putter    putter id
-- ARGV[6] delay     ms before the items may be got (0 = now)
-- ARGV[7] strict    '1': answer full / shut down with an error (inside MULTI); '2': the
--                   same answers, but only check: nothing is written and a put that
--                   would be applied returns 0 (transaction() runs it under WATCH)
-- ARGV[8] mode      'pq' | 'fifo' | 'lifo'
-- ARGV[9..] pq: priority, payload pairs; set queues: payloads
--
-- Returns n >= 0 added (set queues skip members already waiting), -1 already applied,
-- -2 shut down, -3 - free when full.  All or nothing: a KEYS[1] of another Redis type
-- fails WRONGTYPE before any write.
-- A stamp is max(server ms * 1024, last stamp + 1): unique and increasing per queue,
-- and the enqueue time is stamp // 1024 (ms).
local queue, meta, delayed, producer = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local putters, waiters, ready, attempts, getters = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local maxsize, wait, putter = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local delay, strict, check, mode = tonumber(ARGV[6]), ARGV[7] ~= '0', ARGV[7] == '2', ARGV[8]
-- @include request
-- @include wake_getters

local req, applied = split_request(producer, ARGV[1])
if applied then return -1 end
if redis.call('HGET', meta, 'shutdown') then
  if strict then return redis.error_reply('hotsync ShutDown: queue ' .. queue .. ' is shut down') end
  return -2
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local new = {}
if mode == 'pq' then
  for i = 9, #ARGV, 2 do new[#new + 1] = {ARGV[i], ARGV[i + 1]} end
else
  local seen = {}
  for i = 9, #ARGV do
    local m = ARGV[i]
    if not seen[m] and not redis.call('ZSCORE', queue, m) and not redis.call('ZSCORE', delayed, m) then
      seen[m] = true
      new[#new + 1] = m
    end
  end
end
if maxsize > 0 then
  local count = redis.call('ZCARD', queue) + redis.call('ZCARD', delayed)
  if count + #new > maxsize then
    if strict then return redis.error_reply('hotsync Full: queue ' .. queue .. ' is full') end
    if wait > 0 then
      redis.call('ZADD', putters, now + wait, putter .. '|' .. #new)
      if redis.call('PTTL', putters) < wait + 1000 then redis.call('PEXPIRE', putters, wait + 1000) end
    end
    return -3 - math.max(maxsize - count, 0)
  end
end
if check then return 0 end

local last = tonumber(redis.call('HGET', meta, 'seq') or '0')
local target, due, waiting = queue, 0, 0
if delay > 0 then
  -- read before any write: a main key of another type fails here (a pq writes nothing else first)
  target, due, waiting = delayed, now + delay, redis.call('ZCARD', queue)
end
for i = 1, #new do
  last = math.max(now * 1024, last + 1)
  if mode == 'pq' then
    local member = string.format('%014x', last) .. '|0|' .. new[i][1] .. '|' .. new[i][2]
    redis.call('ZADD', target, delay > 0 and due or new[i][1], member)
  else
    local score = delay > 0 and due or (mode == 'lifo' and -last or last)
    redis.call('ZADD', target, string.format('%.0f', score), new[i])
    redis.call('HDEL', attempts, new[i])
  end
end
if #new > 0 then
  redis.call('HSET', meta, 'seq', string.format('%.0f', last))
  redis.call('HINCRBY', meta, 'unfinished', #new)
  redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now - 2000)
  local w, cap = 0, 0
  if delay == 0 then
    cap = redis.call('ZCARD', waiters)
    w = math.min(cap, #new)
  elseif waiting == 0 then
    -- blocked getters may wait past the new due time: wake them
    w = redis.call('ZCOUNT', waiters, '(' .. (due + 20), '+inf') + redis.call('ZCOUNT', getters, now, '+inf')
    cap = w
  end
  if w > 0 then wake_getters(ready, w, cap) end
end
mark_request(producer, req, ARGV[2])
if wait > 0 then
  redis.call('ZREM', putters, putter .. '|' .. #new)
end
return #new
