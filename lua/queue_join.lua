-- queue_join: check for unfinished tasks; if there are any, register the caller as
-- a join() waiter so that the task_done() reaching zero wakes it.
--
-- KEYS[1] meta     hash {unfinished, ...}
-- KEYS[2] joiners  zset join() waiter -> registration deadline (server ms)
-- ARGV[1] joiner   waiter id
-- ARGV[2] wait     ms to stay registered
--
-- Returns the number of unfinished tasks (0: join() returns).
local meta, joiners = KEYS[1], KEYS[2]
local joiner, wait = ARGV[1], tonumber(ARGV[2])

local u = tonumber(redis.call('HGET', meta, 'unfinished') or '0')
if u <= 0 then
  redis.call('ZREM', joiners, joiner)
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', joiners, now + wait, joiner)
if redis.call('PTTL', joiners) < wait + 1000 then redis.call('PEXPIRE', joiners, wait + 1000) end
return u
