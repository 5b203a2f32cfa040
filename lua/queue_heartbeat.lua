-- queue_heartbeat: renew a live consumer's lease and report consumers whose lease
-- ran out (their in-flight messages are to be reaped).
--
-- KEYS[1] consumers  zset consumer -> heartbeat deadline (server ms)
-- ARGV[1] consumer   this consumer's id
-- ARGV[2] lease      lease in ms
--
-- Returns {1 renewed | 0 it was not registered (never, or reaped: its in-flight list
-- was taken back), dead consumer ids...} (at most 10 dead ids per call).  Registers
-- the consumer in both cases ('' only reports the dead).  KEYS[1] has no TTL: it is
-- how a dead consumer's in-flight list is found, however late the next consumer comes.
local consumers = KEYS[1]
local consumer, lease = ARGV[1], tonumber(ARGV[2])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local alive = 0
if consumer ~= '' then
  if redis.call('ZSCORE', consumers, consumer) then alive = 1 end
  redis.call('ZADD', consumers, now + lease, consumer)
end
local dead = redis.call('ZRANGEBYSCORE', consumers, '-inf', now, 'LIMIT', 0, 10)
table.insert(dead, 1, alive)
return dead
