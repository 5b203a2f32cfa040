-- lock_force_release: operator repair: free a lock whoever holds it, and wake the
-- next waiter exactly as a release does.  The holders find out through their
-- renewal (lease lost) and their release() raises.
--
-- KEYS[1] lock     hash {owner: depth, "@"..owner: last request id}
-- KEYS[2] waiters  zset owner -> registration deadline (unfair waiters)
-- KEYS[3] signal   list; one element wakes one unfair waiter
-- KEYS[4] line     zset owner -> arrival sequence (fair waiters)
-- KEYS[5] tickets  zset owner -> ticket deadline (fair waiters)
-- ARGV[1] sigttl   milliseconds a pushed wake-up signal may wait to be taken
--
-- Returns {holders, pttl[, head]}: holders = flat list owner, depth, ... of the hash
-- that was deleted (empty if the lock was free); head = fair waiter to wake.  {-1}
-- with nothing written when KEYS[1] is a hash that is not a lock (an owner field
-- without a positive depth or without its "@" field): an operator's typo must not
-- delete a user's hash.
local lock, waiters, signal, line, tickets = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local sigttl = tonumber(ARGV[1])
local pttl = redis.call('PTTL', lock)
local all = redis.call('HGETALL', lock)
local holders, fields = {}, {}
for i = 1, #all, 2 do
  fields[all[i]] = true
end
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 1) ~= '@' then
    local depth = tonumber(all[i + 1])
    if not (depth and depth >= 1 and fields['@' .. all[i]]) then
      return {-1}
    end
    holders[#holders + 1] = all[i]
    holders[#holders + 1] = all[i + 1]
  end
end
redis.call('DEL', lock)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now)
if redis.call('ZCARD', waiters) > 0 then
  redis.call('LPUSH', signal, '1')
  redis.call('PEXPIRE', signal, sigttl)
end
local dead = redis.call('ZRANGEBYSCORE', tickets, '-inf', now, 'LIMIT', 0, 100)
for i = 1, #dead do
  redis.call('ZREM', line, dead[i])
  redis.call('ZREM', tickets, dead[i])
end
local head = redis.call('ZRANGE', line, 0, 0)[1]
if head then
  return {holders, pttl, head}
end
return {holders, pttl}
