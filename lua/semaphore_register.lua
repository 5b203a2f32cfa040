-- semaphore_register: (re)register a holder, atomically: a holder is one thread of one
-- semaphore object; its tokens move into its own list `held` (BLMOVE from the free
-- list), and only a registered holder may receive one: when its registration lapses,
-- a reaper gives its tokens back (semaphore_reap).
--
-- KEYS[1] tokens   list of free tokens
-- KEYS[2] meta     hash {initial, capacity, kind, seq} (see semaphore_init)
-- KEYS[3] holders  zset holder id -> lease deadline (server ms)
-- KEYS[4] held     list: this holder's tokens
-- KEYS[5] rev      string: the request id of the last call that found the holder not
--                  registered (so that a retry of it says so again); TTL ARGV[6]
-- ARGV[1] holder   holder id
-- ARGV[2] lease    lease in milliseconds
-- ARGV[3] value    the caller's initial value (stored when the settings are missing)
-- ARGV[4] kind     'semaphore' or 'bounded'
-- ARGV[5] req      request id of this call (the same on a retry); '' = none (the
--                  caller has nothing to lose: a retry may then say 1 after a 0)
-- ARGV[6] markttl  milliseconds `rev` lives (longer than any retry)
-- ARGV[7..] stale  tokens of the holder's lost permits (it was told): given back from
--                  `held` if still there, even while it is still registered
--
-- Settings missing and KEYS[1] not a list: a WRONGTYPE error naming KEYS[1], nothing
-- written.
-- Returns {1, deadline, bound, was, expired...}: deadline = the registration's end
-- (server ms); bound = ms until the earliest other live registration ends (-1: none);
-- was = 1 when the holder was registered already, else 0 (new, or reaped, or its keys
-- were lost: then tokens found in `held` went back to the free list here, and
-- whatever it held is lost); expired = up to 10 holders whose registration ended, and
-- up to 5 reaped ones still in their grace period (the caller reaps them: see
-- semaphore_reap).  {-1, initial, kind} when the stored settings differ (nothing
-- written).
-- Invariant: a token is in `held` only while its holder is registered (or until the
-- next registration or reap of that holder gives it back).
-- @include wrong_type
-- @include semaphore_tokens

local tokens, meta, holders, held, rev = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local holder, lease, value, kind = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]

local _, gen, reply = settings(meta, tokens, holders, 1, value, kind)
if reply then
  return reply
end
local was = 0
if ARGV[5] == '' or redis.call('GET', rev) ~= ARGV[5] then  -- (a retry of a call that found it reaped: 0 again)
  was = settle(holders, holder, held, tokens, gen, 7) and 1 or 0
  if was == 0 and ARGV[5] ~= '' then
    redis.call('SET', rev, ARGV[5], 'PX', tonumber(ARGV[6]))
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', holders, now + lease, holder)
if redis.call('PTTL', holders) < lease then
  redis.call('PEXPIRE', holders, lease)
end
local bound = -1
local first = redis.call('ZRANGEBYSCORE', holders, now, '+inf', 'WITHSCORES', 'LIMIT', 0, 2)
for i = 1, #first, 2 do
  if first[i] ~= holder then
    bound = tonumber(first[i + 1]) - now
    break
  end
end
return ended(holders, now, {1, now + lease, bound, was})
