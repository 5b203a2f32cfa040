-- semaphore_stats: read a semaphore's state at one instant of server time (no writes).
--
-- KEYS[1] tokens   list of free tokens
-- KEYS[2] meta     hash {initial, capacity, kind, seq}
-- KEYS[3] waiting  zset unfair acquire call -> its holder's registration deadline (server ms)
-- KEYS[4] tickets  zset fair waiter id -> ticket deadline (server ms)
--
-- Returns {capacity, initial, free, waiting}: capacity and initial are -1 when the
-- settings are missing; free counts tokens in the free list (a dead holder's tokens
-- count as in use until they are reaped); waiting counts unexpired unfair waits and
-- fair tickets.
local tokens, meta, waiting, tickets = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', meta, 'capacity', 'initial')
local live = '(' .. now
return {
  tonumber(f[1] or '-1'),
  tonumber(f[2] or '-1'),
  redis.call('LLEN', tokens),
  redis.call('ZCOUNT', waiting, live, '+inf') + redis.call('ZCOUNT', tickets, live, '+inf'),
}
