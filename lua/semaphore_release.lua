-- semaphore_release: return tokens held by the caller to the free list and optionally
-- raise the capacity (minting that many tokens), atomically; then wake the first
-- `free` waiters of the fair line.  Unfair waiters block in BLMOVE on the free list:
-- the server hands them the tokens pushed here, first come first served.
--
-- KEYS[1] tokens   list of free tokens
-- KEYS[2] meta     hash {initial, capacity, kind, seq}
-- KEYS[3] held     list: the releasing holder's tokens
-- KEYS[4] holders  zset holder id -> lease deadline (server ms) (read only)
-- KEYS[5] done     string; marks that this request's capacity raise was applied
-- KEYS[6] line     zset fair waiter id -> arrival number
-- ARGV[1] extra    permits to add to the capacity (0 unless the caller releases more
--                  than it holds; never for kind 'bounded')
-- ARGV[2] value    the caller's initial value (stored when the settings are missing)
-- ARGV[3] kind     'semaphore' or 'bounded'
-- ARGV[4] markttl  milliseconds the `done` mark lives (longer than any retry)
-- ARGV[5] wprefix  name of a fair waiter's wake-up list, less its id: the first `free`
--                  of the line are woken here (LPUSH, PEXPIRE ARGV[6]), in the same
--                  round trip (the lists share the semaphore's hash tag, hence its slot)
-- ARGV[6] wakettl  milliseconds a wake-up list lives
-- ARGV[7] max      the largest capacity allowed
-- ARGV[8] holder   the releasing holder's id
-- ARGV[9..] tokens to return (at most 1000; the caller chunks)
--
-- Settings missing and KEYS[1] not a list: a WRONGTYPE error naming KEYS[1], nothing
-- written.
-- Returns {1, returned, registered} (returned: how many of the given tokens were still
-- in `held`, and of the current generation: see lib/semaphore_tokens; registered: 1
-- when all were, or the holder is registered and was not reaped; else 0),
-- {-1, initial, kind} when the stored settings differ, {-2} for a capacity raise of a
-- bounded semaphore, {-3, capacity} for one past ARGV[7].  Nothing is written on -1/-2/-3.
-- Invariants: a token leaves `held` only into the free list (a retried call finds it
-- gone and returns nothing twice); a retried call (same `done` key) raises the
-- capacity once.
-- @include wrong_type
-- @include semaphore_tokens

local tokens, meta, held, holders, done, line = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local extra, value, kind = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local markttl, wprefix, wakettl = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])

if extra > 0 and kind == 'bounded' then
  return {-2}
end
local capacity, gen, reply = settings(meta, tokens, holders, 1, value, kind)
if reply then
  return reply
end
if extra > 0 and capacity + extra > tonumber(ARGV[7]) and redis.call('EXISTS', done) == 0 then
  return {-3, capacity}
end
local returned = 0
local function registered()  -- 1 when the holder is registered (not reaped: no tombstone)
  if returned == #ARGV - 8 then
    return 1
  end
  local score = redis.call('ZSCORE', holders, ARGV[8])
  return (score and tonumber(score) >= 0) and 1 or 0
end
for i = 9, #ARGV do
  if redis.call('LREM', held, 1, ARGV[i]) == 1 then
    returned = returned + give_back(tokens, gen, ARGV[i])
  end
end
if extra > 0 and redis.call('EXISTS', done) == 0 then
  redis.call('HINCRBY', meta, 'capacity', extra)
  add_tokens(meta, tokens, gen, extra)
  redis.call('SET', done, '1', 'PX', markttl)
elseif returned == 0 then
  return {1, 0, registered()}
end
local free = redis.call('EXISTS', line) == 1 and redis.call('LLEN', tokens) or 0
if free > 0 then
  local heads = redis.call('ZRANGE', line, 0, math.min(free, 100) - 1)
  for i = 1, #heads do
    local wake = wprefix .. heads[i]
    redis.call('LPUSH', wake, '1')
    redis.call('PEXPIRE', wake, wakettl)
  end
end
return {1, returned, registered()}
