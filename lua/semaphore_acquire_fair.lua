-- semaphore_acquire_fair: take one permit in FIFO order, atomically.  Reclaims ended
-- leases and drops waiters whose ticket lapsed; grants when the caller is among the
-- first `free` of the line (a newcomer only when everyone in line can be served
-- too); otherwise gives the caller a place in line (once) and a leased ticket.
--
-- KEYS[1] permits  zset "<owner>/<permit id>" -> lease deadline (server ms)
-- KEYS[2] meta     hash {initial, capacity, kind, seq: line counter}
-- KEYS[3] line     zset waiter id -> arrival number (the FIFO line)
-- KEYS[4] tickets  zset waiter id -> ticket deadline (server ms)
-- ARGV[1] permit   member of the new permit (same on a retry); also the waiter id
-- ARGV[2] lease    lease in milliseconds
-- ARGV[3] ticket   ticket lease in milliseconds (0 = try only; don't join the line)
-- ARGV[4] value    the caller's initial value (stored when the settings are missing)
-- ARGV[5] kind     'semaphore' or 'bounded'
--
-- Settings missing and KEYS[1] not a zset: a WRONGTYPE error naming KEYS[1], nothing
-- written.
-- Returns {1, in_use, waiter...} granted (waiters: others in line who can now be
-- granted too; the caller wakes them), {0, bound, position} busy (bound: ms until
-- the earliest lease ends or -1; position 0 = head, -1 = not in line), {-1, initial,
-- kind} when the stored settings differ.
local permits, meta, line, tickets = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local member, lease, ticket = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local value, kind = ARGV[4], ARGV[5]

-- @include wrong_type

local f = redis.call('HMGET', meta, 'initial', 'kind', 'capacity')
if not f[1] then
  local err = wrong_type(permits, 'zset', 1)
  if err then return err end
  redis.call('HSET', meta, 'initial', value, 'capacity', value, 'kind', kind)
  f = {value, kind, value}
elseif f[1] ~= value or f[2] ~= kind then
  return {-1, f[1], f[2] or ''}
end
local capacity = tonumber(f[3]) or tonumber(value)

if redis.call('ZSCORE', permits, member) then
  return {1, redis.call('ZCARD', permits)}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', permits, '-inf', now)
local dead = redis.call('ZRANGEBYSCORE', tickets, '-inf', now, 'LIMIT', 0, 100)
for i = 1, #dead do
  redis.call('ZREM', line, dead[i])
  redis.call('ZREM', tickets, dead[i])
end

local used = redis.call('ZCARD', permits)
local free = capacity - used
local rank = redis.call('ZRANK', line, member)
local ahead = rank or redis.call('ZCARD', line)
if free > 0 and ahead < free then
  redis.call('ZADD', permits, now + lease, member)
  if redis.call('PTTL', permits) < lease then
    redis.call('PEXPIRE', permits, lease)
  end
  redis.call('ZREM', line, member)
  redis.call('ZREM', tickets, member)
  local reply = {1, used + 1}
  if free > 1 then
    local more = redis.call('ZRANGE', line, 0, math.min(free - 1, 100) - 1)
    for i = 1, #more do
      reply[#reply + 1] = more[i]
    end
  end
  return reply
end

local bound = -1
local first = redis.call('ZRANGE', permits, 0, 0, 'WITHSCORES')
if first[2] then
  bound = tonumber(first[2]) - now
end
if ticket > 0 then
  if not rank then
    redis.call('ZADD', line, redis.call('HINCRBY', meta, 'seq', 1), member)
  end
  redis.call('ZADD', tickets, now + ticket, member)
  for _, k in ipairs({line, tickets}) do
    if redis.call('PTTL', k) < ticket then
      redis.call('PEXPIRE', k, ticket)
    end
  end
  return {0, bound, redis.call('ZRANK', line, member)}
end
return {0, bound, -1}
