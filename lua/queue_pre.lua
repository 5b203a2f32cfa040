-- queue_pre: prepare a blocking pop on a list queue, atomically: promote due delayed
-- items, (re)register the caller, and make sure the pop that follows in the same
-- pipeline returns at once when the queue is shut down and holds no item, or when a
-- delayed item falls due before that pop would end.
--
-- KEYS[1] queue      list of envelopes; may also hold wake markers ('')
-- KEYS[2] meta       hash {shutdown, ...}
-- KEYS[3] delayed    zset envelope -> due time (server ms)
-- KEYS[4] getters    zset getter (thread of a queue object) -> registration expiry (ms)
-- KEYS[5] consumers  zset consumer -> heartbeat deadline (server ms)
-- KEYS[6] inflight   list: the caller's in-flight messages (reserve only)
-- ARGV[1] bound      ms the following pop may block
-- ARGV[2] consumer   consumer id to register ('' = none)
-- ARGV[3] lease      consumer lease in ms
-- ARGV[4] drop       '1': remove wake markers the caller moved into its in-flight list
-- ARGV[5] getter     getter id to register for 60 s ('' = registered already)
--
-- Returns {shutdown 0/1, ms until the next delayed item is due or -1, items}: items
-- (waiting, markers excluded) is counted only when shut down, else -1.  A shut-down
-- queue whose delayed set still holds items answers 0 (not shut down yet): its getters
-- keep waiting for those items (until the next due time), and drain them.  When the
-- caller is to be registered and KEYS[1] holds another Redis type: a WRONGTYPE error,
-- no registration written, and the caller's guard entry (score 0, added just before
-- in the same pipeline) removed from KEYS[5], so the pop that fails next leaves nothing.
-- Invariant: this script pushes a wake marker only into a list holding nothing.
local queue, meta, delayed, getters = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local consumers, inflight = KEYS[5], KEYS[6]
local bound, consumer, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local drop, getter = ARGV[4] == '1', ARGV[5]

-- @include clock
-- @include wrong_type

if consumer ~= '' or getter ~= '' then -- registering (rare): is the queue a list?
  local err = wrong_type(queue, 'list', 1)
  if err then
    if consumer ~= '' and redis.call('ZSCORE', consumers, consumer) == '0' then
      redis.call('ZREM', consumers, consumer)
    end
    return err
  end
end
local shut = redis.call('HGET', meta, 'shutdown') and 1 or 0
local nextdue = -1
if redis.call('EXISTS', delayed) == 1 then
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', clock(), 'LIMIT', 0, 1000)
  if #due > 0 then
    redis.call('LPUSH', queue, unpack(due))
    redis.call('ZREM', delayed, unpack(due))
  end
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if first[2] then nextdue = math.max(tonumber(first[2]) - clock(), 0) end
end
if drop then
  redis.call('LREM', inflight, 0, '')
end
if consumer ~= '' then
  redis.call('ZADD', consumers, clock() + lease, consumer)
end
if getter ~= '' then
  redis.call('ZADD', getters, clock() + 60000, getter)
  redis.call('PEXPIRE', getters, 70000)
end
if shut == 1 and nextdue >= 0 then
  shut = 0 -- delayed items are still to be handed out: wait for them
end
local items = -1
if shut == 1 then
  local len = redis.call('LLEN', queue)
  items = len
  if len > 0 then
    items = len - #redis.call('LPOS', queue, '', 'RANK', -1, 'COUNT', 0, 'MAXLEN', 1000)
    if len > 1000 then -- markers sit at either end (shutdown pushes them at the far end)
      items = items - #redis.call('LPOS', queue, '', 'COUNT', 0, 'MAXLEN', math.min(1000, len - 1000))
    end
  else
    redis.call('RPUSH', queue, '')
  end
elseif nextdue >= 0 and nextdue + 20 < bound and redis.call('LLEN', queue) == 0 then
  redis.call('RPUSH', queue, '')
end
return {shut, nextdue, items}
