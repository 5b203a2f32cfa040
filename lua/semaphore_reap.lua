-- semaphore_reap: give back the tokens of holders whose registration ended (a holder
-- that died or stalled past its lease), atomically, and mark them reaped.
--
-- KEYS[1] tokens    list of free tokens
-- KEYS[2] meta      hash {..., gen: the current token generation}
-- KEYS[3] holders   zset holder id -> lease deadline (server ms); a reaped holder's
--                   score is minus the time it was reaped (a tombstone)
-- KEYS[4] waiting   zset waiting acquire call -> its holder's registration deadline
-- KEYS[5..] held    list of tokens of the holder ARGV[i - 3]
-- ARGV[1] grace     ms a tombstone is kept (longer than any move may arrive late)
-- ARGV[2..] holder  holder ids (the caller found them ended or reaped; rechecked here)
--
-- Returns the number of tokens given back.  A holder registered again meanwhile
-- (deadline in the future) is left alone.  A reaped holder keeps a tombstone for
-- `grace` ms, and is reaped again when reported (its list may have received a token
-- from a move that reached the server late); a holder no longer listed gives back
-- what its list holds too.  Tokens of an older generation (see
-- lib/semaphore_tokens) are dropped, not given back.
-- Invariant: tokens are moved, never created.
-- @include wrong_type
-- @include semaphore_tokens

local tokens, meta, holders, waiting = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local held = {unpack(KEYS, 5, #KEYS)}  -- at most 15 (the caller's batch)
local grace = tonumber(ARGV[1])
redis.call('LLEN', tokens)  -- not a list: WRONGTYPE, before any write
local gen = redis.call('HGET', meta, 'gen') or '-'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local moved = 0
for i = 1, #held do
  local holder = ARGV[i + 1]
  local score = tonumber(redis.call('ZSCORE', holders, holder))
  if not score or score < now then
    moved = moved + empty_into(tokens, gen, held[i])
    if score and score >= 0 then
      redis.call('ZADD', holders, -now, holder)
    elseif score and -score < now - grace then
      redis.call('ZREM', holders, holder)
    end
  end
end
redis.call('ZREMRANGEBYSCORE', waiting, '-inf', '(' .. now)
return moved
