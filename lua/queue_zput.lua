-- queue_zput: add items to a zset queue (PriorityQueue, SetQueue, LifoSetQueue), or
-- to its delayed set, atomically: shutdown and maxsize checks, insert-if-absent for
-- set queues, FIFO sequence numbers, unfinished-task count, retry guard, wake-ups.
--
-- KEYS[1] queue     zset. pq: 'seq|deliveries|priority|payload' -> priority;
--                   set queues: payload -> seq (FIFO) or -seq (LIFO)
-- KEYS[2] meta      hash {shutdown, unfinished, seq, ...}
-- KEYS[3] delayed   zset (same members) -> due time (server ms)
-- KEYS[4] producer  string: last request applied by this producer; PX = ARGV[7]
-- KEYS[5] putters   zset putter -> registration deadline (server ms)
-- KEYS[6] waiters   zset blocked getter -> time its wait ends (server ms)
-- KEYS[7] ready     list: one element wakes one blocked getter
-- KEYS[8] attempts  hash member -> deliveries (set queues)
-- ARGV[1] request   this producer's request number ('' = no retry guard); a leading
--                   '?' marks a retry: check the guard first
-- ARGV[2] maxsize   0 = unbounded
-- ARGV[3] wait      ms to register ARGV[4] as a putter when full (0 = don't)
-- ARGV[4] putter    putter id
-- ARGV[5] delay     ms before the items may be got (0 = now)
-- ARGV[6] strict    '1': answer full / shut down with an error (inside MULTI)
-- ARGV[7] guard_ttl ms the retry guard is kept
-- ARGV[8] mode      'pq' | 'fifo' | 'lifo'
-- ARGV[9..] pq: priority, payload pairs; set queues: payloads
--
-- Returns {1, added} (set queues skip members already waiting), {2} already applied,
-- {0, free} full, {3} shut down.  All or nothing.
local queue, meta, delayed, producer = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local putters, waiters, ready, attempts = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local req, maxsize, wait, putter = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local delay, strict, guard, mode = tonumber(ARGV[5]), ARGV[6] == '1', tonumber(ARGV[7]), ARGV[8]

if string.sub(req, 1, 1) == '?' then
  req = string.sub(req, 2)
  if redis.call('GET', producer) == req then return {2} end
end
if redis.call('HGET', meta, 'shutdown') then
  if strict then return redis.error_reply('hotsync ShutDown: queue ' .. queue .. ' is shut down') end
  return {3}
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
      redis.call('ZADD', putters, now + wait, putter)
      if redis.call('PTTL', putters) < wait + 1000 then redis.call('PEXPIRE', putters, wait + 1000) end
    end
    return {0, maxsize - count}
  end
end

local target, due = queue, 0
if delay > 0 then target, due = delayed, now + delay end
for i = 1, #new do
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  if mode == 'pq' then
    local member = string.format('%012x', seq) .. '|0|' .. new[i][1] .. '|' .. new[i][2]
    redis.call('ZADD', target, delay > 0 and due or new[i][1], member)
  else
    redis.call('ZADD', target, delay > 0 and due or (mode == 'lifo' and -seq or seq), new[i])
    redis.call('HDEL', attempts, new[i])
  end
end
if #new > 0 then
  redis.call('HINCRBY', meta, 'unfinished', #new)
  redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now - 2000)
  local w
  if delay > 0 then
    w = redis.call('ZCOUNT', waiters, '(' .. (due + 20), '+inf')
  else
    w = math.min(redis.call('ZCARD', waiters), #new)
  end
  w = math.min(w, 1000) - redis.call('LLEN', ready)
  for _ = 1, w do redis.call('LPUSH', ready, '1') end
  if w > 0 then redis.call('PEXPIRE', ready, 60000) end
end
if req ~= '' then
  redis.call('SET', producer, req, 'PX', guard)
end
if wait > 0 then
  redis.call('ZREM', putters, putter)
end
return {1, #new}
