-- lock_acquire_fair: take (or re-enter) a lock in FIFO order, atomically.  A caller
-- that must wait gets a place in line (once) and a leased ticket; tickets that were
-- not renewed in time are dropped from the line first, so dead waiters never block it.
-- A place in line belongs to one acquire call: its member is "<req>#<owner>", so a
-- release can grant the lock to that call directly (see lock_release).
--
-- KEYS[1] lock     hash {owner: depth, "@"..owner: last request id}, PEXPIRE = lease
-- KEYS[2] fence    hash {n: fencing counter, seq: line counter, last: last release id}
-- KEYS[3] line     zset "<req>#<owner>" -> arrival sequence number (the FIFO line)
-- KEYS[4] tickets  zset "<req>#<owner>" -> ticket deadline (server ms)
-- KEYS[5] wake     this call's wake-up list (deleted when the call holds the lock: what
--                  was pushed there, a grant or a wake-up, is moot)
-- ARGV[1] owner    owner id
-- ARGV[2] req      request id of this acquire call (same value on a retry)
-- ARGV[3] lease    lease in milliseconds
-- ARGV[4] ticket   ticket lease in milliseconds (0 = try only; don't join the line)
--
-- Returns {1, fence, depth} when the caller holds the lock, {0, pttl, position}
-- when it must wait (position 0 = head of the line, -1 = not in line).  A grant found
-- already made for this request (a retry, or a release's direct grant) gets at least
-- `lease` left, so the caller may time its lease from when it sent this call.
local lock, fence, line, tickets, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local owner, req = ARGV[1], ARGV[2]
local lease, ticket = tonumber(ARGV[3]), tonumber(ARGV[4])
local reqf = '@' .. owner
local member = req .. '#' .. owner

local mine = redis.call('HMGET', lock, reqf, owner)
if mine[1] == req then
  if redis.call('PTTL', lock) < lease then
    redis.call('PEXPIRE', lock, lease)
  end
  redis.call('DEL', wake)
  return {1, tonumber(redis.call('HGET', fence, 'n')), tonumber(mine[2])}
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', tickets, '-inf', now, 'LIMIT', 0, 100)
for i = 1, #dead do
  redis.call('ZREM', line, dead[i])
  redis.call('ZREM', tickets, dead[i])
end

local head = redis.call('ZRANGE', line, 0, 0)[1]
local reenter = mine[2] ~= false
if reenter or (redis.call('EXISTS', lock) == 0 and (not head or head == member)) then
  local depth = redis.call('HINCRBY', lock, owner, 1)
  redis.call('HSET', lock, reqf, req)
  local n
  if depth == 1 then
    n = redis.call('HINCRBY', fence, 'n', 1)
  else
    n = tonumber(redis.call('HGET', fence, 'n'))
  end
  if redis.call('PTTL', lock) < lease then
    redis.call('PEXPIRE', lock, lease)
  end
  redis.call('ZREM', line, member)
  redis.call('ZREM', tickets, member)
  redis.call('DEL', wake)
  return {1, n, depth}
end

if ticket > 0 then
  if not redis.call('ZSCORE', line, member) then
    redis.call('ZADD', line, redis.call('HINCRBY', fence, 'seq', 1), member)
  end
  redis.call('ZADD', tickets, now + ticket, member)
  for _, k in ipairs({line, tickets}) do
    if redis.call('PTTL', k) < ticket then
      redis.call('PEXPIRE', k, ticket)
    end
  end
  return {0, redis.call('PTTL', lock), redis.call('ZRANK', line, member)}
end
return {0, redis.call('PTTL', lock), -1}
