-- lock_leave: a fair waiter gives up (timeout, interrupt): leave the line, and
-- report the new head when the lock is free so that the caller wakes it.
--
-- KEYS[1] lock     hash (only its existence is read)
-- KEYS[2] line     zset owner -> arrival sequence
-- KEYS[3] tickets  zset owner -> ticket deadline (server ms)
-- ARGV[1] owner    owner id of the waiter
--
-- Returns {0} (nobody to wake) or {1, head}: the caller should wake `head`.
local lock, line, tickets, owner = KEYS[1], KEYS[2], KEYS[3], ARGV[1]
redis.call('ZREM', line, owner)
redis.call('ZREM', tickets, owner)
if redis.call('EXISTS', lock) == 0 then
  local head = redis.call('ZRANGE', line, 0, 0)[1]
  if head then
    return {1, head}
  end
end
return {0}
