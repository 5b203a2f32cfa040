-- queue_put_plain: the common put, kept to the five calls its promises need: items
-- into an unbounded list queue (Queue, LifoQueue), no delay, outside transaction().
-- Shutdown check, enqueue time, unfinished-task count and retry guard, atomically.
-- Every other put runs queue_put; each server microsecond here is on the producer's
-- critical path (see bench/bench_queue.py).
--
-- KEYS[1] queue     list of envelopes 'enqueued|id|deliveries|payload'
-- KEYS[2] meta      hash {shutdown, unfinished, ...}
-- KEYS[3] producer  string: last request applied by this producer (retry guard)
-- ARGV[1] request   '[?]n' and ARGV[2] guard '[+]ttl' (see lib/request)
-- ARGV[3..] envelopes '|id|0|payload' (the enqueue time, server ms, is put in front)
--
-- Returns n added, -1 already applied (a retry), -2 shut down.  All or nothing: a
-- queue key of another Redis type fails WRONGTYPE before any write.
local queue, meta, producer = KEYS[1], KEYS[2], KEYS[3]
-- @include request
-- @include push_envelopes

local req, applied = split_request(producer, ARGV[1])
if applied then return -1 end
if redis.call('HGET', meta, 'shutdown') then return -2 end
local t = redis.call('TIME')
local stamp = t[1] .. string.sub(string.rep('0', 6 - #t[2]) .. t[2], 1, 3) -- ms, no number formatting
local n = #ARGV - 2
push_envelopes(queue, stamp, 3)
redis.call('HINCRBY', meta, 'unfinished', n)
mark_request(producer, req, ARGV[2])
return n
