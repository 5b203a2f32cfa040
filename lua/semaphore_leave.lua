-- semaphore_leave: a fair waiter gives up (timeout, interrupt): leave the line, and
-- report the waiters that could be granted now so that the caller wakes them.
--
-- KEYS[1] tokens   list of free tokens
-- KEYS[2] line     zset waiter id -> arrival number
-- KEYS[3] tickets  zset waiter id -> ticket deadline (server ms)
-- ARGV[1] waiter   waiter id
--
-- Returns {1, waiter...}: the waiters to wake (possibly none).
local tokens, line, tickets = KEYS[1], KEYS[2], KEYS[3]
local member = ARGV[1]
redis.call('ZREM', line, member)
redis.call('ZREM', tickets, member)
local reply = {1}
local free = redis.call('LLEN', tokens)
if free > 0 then
  local heads = redis.call('ZRANGE', line, 0, math.min(free, 100) - 1)
  for i = 1, #heads do
    reply[#reply + 1] = heads[i]
  end
end
return reply
