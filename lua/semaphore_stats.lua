-- semaphore_stats: read a semaphore's state at one instant of server time (no writes).
--
-- KEYS[1] permits  zset "<owner>/<permit id>" -> lease deadline (server ms)
-- KEYS[2] meta     hash {initial, capacity, kind, seq}
-- KEYS[3] waiters  zset unfair waiter id -> registration deadline (server ms)
-- KEYS[4] tickets  zset fair waiter id -> ticket deadline (server ms)
--
-- Returns {capacity, initial, in_use, waiting}: capacity and initial are -1 when the
-- settings are missing; in_use counts permits whose lease has not ended; waiting
-- counts unexpired waiter registrations and fair tickets.
local permits, meta, waiters, tickets = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', meta, 'capacity', 'initial')
local live = '(' .. now
return {
  tonumber(f[1] or '-1'),
  tonumber(f[2] or '-1'),
  redis.call('ZCOUNT', permits, live, '+inf'),
  redis.call('ZCOUNT', waiters, live, '+inf') + redis.call('ZCOUNT', tickets, live, '+inf'),
}
