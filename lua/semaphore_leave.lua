-- semaphore_leave: a fair waiter gives up (timeout, interrupt): leave the line, and
-- report the waiters that could be granted now so that the caller wakes them.
--
-- KEYS[1] permits  zset "<owner>/<permit id>" -> lease deadline (server ms)
-- KEYS[2] meta     hash {initial, capacity, kind, seq}
-- KEYS[3] line     zset waiter id -> arrival number
-- KEYS[4] tickets  zset waiter id -> ticket deadline (server ms)
-- ARGV[1] waiter   waiter id
--
-- Returns {1, waiter...}: the waiters to wake (possibly none).
local permits, meta, line, tickets = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local member = ARGV[1]
redis.call('ZREM', line, member)
redis.call('ZREM', tickets, member)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local reply = {1}
local capacity = tonumber(redis.call('HGET', meta, 'capacity') or '0')
local free = capacity - redis.call('ZCOUNT', permits, '(' .. now, '+inf')
if free > 0 then
  local heads = redis.call('ZRANGE', line, 0, math.min(free, 100) - 1)
  for i = 1, #heads do
    reply[#reply + 1] = heads[i]
  end
end
return reply
