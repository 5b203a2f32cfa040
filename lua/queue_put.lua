-- queue_put: add envelopes to a list queue (Queue, LifoQueue), or to its delayed
-- set, atomically: shutdown and maxsize checks, unfinished-task count, retry guard.
--
-- KEYS[1] queue     list of envelopes; may also hold wake markers ('') at its right end
-- KEYS[2] meta      hash {shutdown, unfinished, ...}
-- KEYS[3] delayed   zset envelope -> due time (server ms)
-- KEYS[4] producer  string: last request applied by this producer; PX = ARGV[7]
-- KEYS[5] putters   zset putter -> registration deadline (server ms)
-- KEYS[6] getters   zset getter object -> registration expiry (server ms)
-- ARGV[1] request   this producer's request number ('' = no retry guard); a leading
--                   '?' marks a retry: check the guard first
-- ARGV[2] maxsize   0 = unbounded
-- ARGV[3] wait      ms to register ARGV[4] as a putter when full (0 = don't)
-- ARGV[4] putter    putter id
-- ARGV[5] delay     ms before the items may be got (0 = now)
-- ARGV[6] strict    '1': answer full / shut down with an error (inside MULTI)
-- ARGV[7] guard_ttl ms the retry guard is kept
-- ARGV[8..] envelopes
--
-- Returns {1, n} added, {2} already applied (a retry), {0, free} full, {3} shut down.
-- Invariant: all or nothing.
local queue, meta, delayed, producer = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local putters, getters = KEYS[5], KEYS[6]
local req, maxsize, wait, putter = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local delay, strict, guard = tonumber(ARGV[5]), ARGV[6] == '1', tonumber(ARGV[7])
local n = #ARGV - 7

if string.sub(req, 1, 1) == '?' then
  req = string.sub(req, 2)
  if redis.call('GET', producer) == req then return {2} end
end
if redis.call('HGET', meta, 'shutdown') then
  if strict then return redis.error_reply('hotsync ShutDown: queue ' .. queue .. ' is shut down') end
  return {3}
end
local now
if maxsize > 0 or delay > 0 or wait > 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local len, markers = 0, 0
if maxsize > 0 or delay > 0 then
  len = redis.call('LLEN', queue)
  if len > 0 then
    markers = #redis.call('LPOS', queue, '', 'RANK', -1, 'COUNT', 0, 'MAXLEN', 1000)
  end
end
if maxsize > 0 then
  local count = len - markers + redis.call('ZCARD', delayed)
  if count + n > maxsize then
    if strict then return redis.error_reply('hotsync Full: queue ' .. queue .. ' is full') end
    if wait > 0 then
      redis.call('ZADD', putters, now + wait, putter)
      redis.call('PEXPIRE', putters, wait + 1000)
    end
    return {0, maxsize - count}
  end
end
if n == 0 then
  return {1, 0}
end
if delay > 0 then
  local due = now + delay
  for i = 8, #ARGV do
    redis.call('ZADD', delayed, due, ARGV[i])
  end
  if len == markers then
    -- blocked getters may wait past the new due time: wake each registered getter once
    local g = redis.call('ZCOUNT', getters, now, '+inf')
    for _ = 1, math.min(g, 1000) - markers do redis.call('RPUSH', queue, '') end
  end
else
  for i = 8, #ARGV, 1000 do
    redis.call('LPUSH', queue, unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
end
redis.call('HINCRBY', meta, 'unfinished', n)
if req ~= '' then
  redis.call('SET', producer, req, 'PX', guard)
end
if wait > 0 then
  redis.call('ZREM', putters, putter)
end
return {1, n}
