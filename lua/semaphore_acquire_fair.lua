-- semaphore_acquire_fair: take one token in FIFO order, atomically.  Drops waiters
-- whose ticket lapsed; grants when the caller is among the first `free` of the line (a
-- newcomer only when everyone in line can be served too), moving a free token into
-- the caller's holder list and registering the holder; otherwise gives the caller a
-- place in line (once) and a leased ticket.
--
-- KEYS[1] tokens   list of free tokens
-- KEYS[2] meta     hash {initial, capacity, kind, seq: line counter}
-- KEYS[3] line     zset waiter id -> arrival number (the FIFO line)
-- KEYS[4] tickets  zset waiter id -> ticket deadline (server ms)
-- KEYS[5] holders  zset holder id -> lease deadline (server ms)
-- KEYS[6] held     list: the caller's holder's tokens
-- ARGV[1] waiter   waiter id (one acquire call; same on a retry)
-- ARGV[2] holder   holder id
-- ARGV[3] lease    lease in milliseconds
-- ARGV[4] ticket   ticket lease in milliseconds (0 = try only; don't join the line)
-- ARGV[5] value    the caller's initial value (stored when the settings are missing)
-- ARGV[6] kind     'semaphore' or 'bounded'
-- ARGV[7..] stale  tokens of the holder's lost permits: on a grant, given back from
--                  `held` first if still there, as semaphore_register does
--
-- Settings missing and KEYS[1] not a list: a WRONGTYPE error naming KEYS[1], nothing
-- written.
-- Returns {1, token, deadline, was, waiter...} granted (deadline: the holder's
-- registration end, server ms; was: 1 when the holder was registered already, else 0,
-- and tokens found in `held` went back first, as semaphore_register does; waiters: others in line
-- who can now be granted too, the caller wakes them), {0, bound, position, expired...}
-- busy (bound: ms until the earliest live registration ends or -1; position 0 = head, -1 =
-- not in line; expired: holders to reap, as semaphore_register reports them), {-1,
-- initial, kind} when the stored
-- settings differ.
-- @include wrong_type
-- @include semaphore_tokens

local tokens, meta, line, tickets, holders, held = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local waiter, holder, lease, ticket = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

local _, gen, reply = settings(meta, tokens, holders, 1, ARGV[5], ARGV[6])
if reply then
  return reply
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', tickets, '-inf', now, 'LIMIT', 0, 100)
for i = 1, #dead do
  redis.call('ZREM', line, dead[i])
  redis.call('ZREM', tickets, dead[i])
end

local free = redis.call('LLEN', tokens)
local rank = redis.call('ZRANK', line, waiter)
local ahead = rank or redis.call('ZCARD', line)
if free > 0 and ahead < free then
  local score = settle(holders, holder, held, tokens, gen, 7)
  local token = redis.call('RPOPLPUSH', tokens, held)
  if not score or score < now + lease then
    redis.call('ZADD', holders, now + lease, holder)
  end
  if redis.call('PTTL', holders) < lease then
    redis.call('PEXPIRE', holders, lease)
  end
  redis.call('ZREM', line, waiter)
  redis.call('ZREM', tickets, waiter)
  local out = {1, token, math.max(now + lease, score or 0), score and 1 or 0}
  if free > 1 then
    local more = redis.call('ZRANGE', line, 0, math.min(free - 1, 100) - 1)
    for i = 1, #more do
      out[#out + 1] = more[i]
    end
  end
  return out
end

local bound = -1
local first = redis.call('ZRANGEBYSCORE', holders, now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if first[2] then
  bound = tonumber(first[2]) - now
end
local position = -1
if ticket > 0 then
  if not rank then
    redis.call('ZADD', line, redis.call('HINCRBY', meta, 'seq', 1), waiter)
  end
  redis.call('ZADD', tickets, now + ticket, waiter)
  for _, k in ipairs({line, tickets}) do
    if redis.call('PTTL', k) < ticket then
      redis.call('PEXPIRE', k, ticket)
    end
  end
  position = redis.call('ZRANK', line, waiter)
end
return ended(holders, now, {0, bound, position})
