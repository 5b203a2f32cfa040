-- lock_leave: a waiter gives up (timeout, interrupt): leave the fair line or the
-- unfair waiters (and drop its claim on the next release), and report the new head
-- of the line when the lock is free so that the caller wakes it; when the lock is free
-- and unfair waiters remain, wake one of them through the signal list (the caller may
-- have taken the one wake-up a release sent, then been interrupted).  A release may
-- have granted the lock to this very call meanwhile (lock_release's direct grant):
-- then the caller decides to keep it or release it.
--
-- KEYS[1] lock     hash {owner: depth, "@"..owner: last request id}
-- KEYS[2] line     zset "<req>#<owner>" -> arrival sequence
-- KEYS[3] tickets  zset "<req>#<owner>" -> ticket deadline (server ms)
-- KEYS[4] fence    hash {n: fencing counter, hungry: claim of the next release, ...}
-- KEYS[5] waiters  zset owner -> registration deadline (unfair waiters)
-- KEYS[6] signal   list; one element wakes one unfair waiter (pushed only when the
--                  lock is free and unfair waiters remain)
-- KEYS[7] wake     the leaving call's own wake-up list ("<req>#<owner>"), deleted: what
--                  was pushed there (a wake-up, a grant's "g<token>") is moot once the
--                  call stops waiting (optional)
-- ARGV[1] req      request id of the acquire call that gives up
-- ARGV[2] owner    its owner id
-- ARGV[3] lease    its lease in milliseconds (a kept grant gets at least this; also how
--                  long a pushed wake-up signal may wait to be taken)
--
-- Returns {0} (nobody to wake), {1, head}: the caller should wake `head`, or
-- {2, fence}: the call was granted the lock (fencing token `fence`, depth 1).
local lock, line, tickets, fence, waiters, signal = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local wake = KEYS[7]
local req, owner, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
local member = req .. '#' .. owner
if wake then
  redis.call('DEL', wake)
end
redis.call('ZREM', line, member)
redis.call('ZREM', tickets, member)
redis.call('ZREM', waiters, owner)
if redis.call('HGET', fence, 'hungry') == ARGV[3] .. '#' .. member then
  redis.call('HDEL', fence, 'hungry')
end
if redis.call('HGET', lock, '@' .. owner) == req then
  if redis.call('PTTL', lock) < lease then
    redis.call('PEXPIRE', lock, lease)
  end
  return {2, tonumber(redis.call('HGET', fence, 'n'))}
end
if redis.call('EXISTS', lock) == 0 then
  if redis.call('ZCARD', waiters) > 0 then
    redis.call('LPUSH', signal, '1')
    redis.call('PEXPIRE', signal, lease)
  end
  local head = redis.call('ZRANGE', line, 0, 0)[1]
  if head then
    return {1, head}
  end
end
return {0}
