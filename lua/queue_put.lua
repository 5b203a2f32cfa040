-- queue_put: add envelopes to a list queue (Queue, LifoQueue), or to its delayed
-- set, atomically: shutdown and maxsize checks, enqueue time, unfinished-task count,
-- retry guard.  The common put (unbounded, no delay, no wait, not in MULTI) runs the
-- leaner queue_put_plain instead.
--
-- KEYS[1] queue     list of envelopes 'enqueued|id|deliveries|payload'; may also hold
--                   wake markers ('')
-- KEYS[2] meta      hash {shutdown, unfinished, ...}
-- KEYS[3] producer  string: last request applied by this producer (retry guard)
-- KEYS[4] delayed   zset envelope -> due time (server ms)
-- KEYS[5] putters   zset 'putter|n' -> registration deadline (ms) (n: the items it
--                   waits to put, see wake_putters)
-- KEYS[6] getters   zset getter -> registration expiry (ms)
-- ARGV[1] request   '' (no retry guard) or '[?]n', and ARGV[2] guard '' or '[+]ttl'
--                   (see lib/request)
-- ARGV[3] maxsize (0 = unbounded), ARGV[4] wait (ms to register ARGV[5] as a putter
--   when full, 0 = don't), ARGV[5] putter id, ARGV[6] delay (ms),
--   ARGV[7] strict ('1': answer full / shut down with an error, inside MULTI; '2': the
--   same answers, but only check: nothing is written and a put that would be applied
--   returns 0 -- what transaction() runs under WATCH before its MULTI),
--   ARGV[8..] envelopes '|id|0|payload' (the enqueue time is put in front here)
--
-- Returns n >= 0 added, -1 already applied (a retry), -2 shut down, or -3 - free
-- when full (free >= 0 slots).  The enqueue time is the server's clock (ms), or the
-- due time of a delayed put.  Invariant: all or nothing.  The putters key's TTL
-- is only ever extended here (other putters may wait longer).
local queue, meta, producer = KEYS[1], KEYS[2], KEYS[3]
local delayed, putters, getters = KEYS[4], KEYS[5], KEYS[6]
local maxsize, wait, putter = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local delay, strict, check = tonumber(ARGV[6]), ARGV[7] ~= '0', ARGV[7] == '2'
local first = 8
local n = #ARGV - first + 1
local registered = putter .. '|' .. n -- as wake_putters reads it
-- @include request
-- @include push_envelopes

local req, applied = split_request(producer, ARGV[1])
if applied then return -1 end
if redis.call('HGET', meta, 'shutdown') then
  if strict then return redis.error_reply('hotsync ShutDown: queue ' .. queue .. ' is shut down') end
  return -2
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stamp = string.format('%.0f', now + delay)
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
      redis.call('ZADD', putters, now + wait, registered)
      if redis.call('PTTL', putters) < wait + 1000 then redis.call('PEXPIRE', putters, wait + 1000) end
    end
    return -3 - math.max(maxsize - count, 0)
  end
end
if check then return 0 end

if delay > 0 then
  for i = first, #ARGV do
    redis.call('ZADD', delayed, now + delay, stamp .. ARGV[i])
  end
  if len == markers then
    -- blocked getters may wait past the new due time: wake each registered getter once
    local g = redis.call('ZCOUNT', getters, now, '+inf')
    for _ = 1, math.min(g, 1000) - markers do redis.call('RPUSH', queue, '') end
  end
else
  push_envelopes(queue, stamp, first)
end
if n > 0 then
  redis.call('HINCRBY', meta, 'unfinished', n)
end
mark_request(producer, req, ARGV[2])
if wait > 0 then
  redis.call('ZREM', putters, registered)
end
return n
