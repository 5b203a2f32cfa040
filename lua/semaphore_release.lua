-- semaphore_release: return permits held by the caller and optionally raise the
-- capacity, atomically; then serve waiters: one handoff per registered unfair waiter
-- that no pending handoff covers yet (a permit created for whoever pops it from
-- `handoffs` with BZPOPMIN; the popper then removes its own registration), and wake
-- the first `free` of the fair line.
--
-- KEYS[1] permits   zset "<owner>/<n>" or "~h:<n>.<µs>" (handoff) -> lease deadline
--                   (server ms)
-- KEYS[2] meta      hash {initial, capacity, kind, seq, maxlease}
-- KEYS[3] waiters   zset unfair waiter id -> registration deadline (server ms)
-- KEYS[4] done      string; marks that this request's capacity raise was applied
-- KEYS[5] handoffs  zset "~h:<n>.<µs>" -> take-by deadline (server ms)
-- KEYS[6] line      zset fair waiter id -> arrival number
-- KEYS[7] tickets   zset fair waiter id -> ticket deadline (server ms)
-- ARGV[1] extra     permits to add to the capacity (0 unless the caller releases more
--                   than it holds; never for kind 'bounded')
-- ARGV[2] lease     the caller's lease in ms (a handoff permit lives window +
--                   max(lease, maxlease): a taker popping it up to its take-by
--                   deadline still has a whole lease to renew it in)
-- ARGV[3] markttl   milliseconds the `done` mark lives (longer than any retry)
-- ARGV[4] window    milliseconds a handoff waits to be taken before it is reclaimed
--                   (its take-by deadline; at most ARGV[2])
-- ARGV[5] value     the caller's initial value (stored when the settings are missing)
-- ARGV[6] kind      'semaphore' or 'bounded'
-- ARGV[7] wprefix   name of a fair waiter's wake-up list, less its id: the first `free`
--                   of the line are woken here (LPUSH, PEXPIRE lease), in the same round
--                   trip (the lists share the semaphore's hash tag, hence its slot)
-- ARGV[8..] permit members to return (at most 1000; the caller chunks)
--
-- Settings missing and KEYS[1] not a zset: a WRONGTYPE error naming KEYS[1], nothing
-- written.
-- Returns {1, removed} (removed: how many of the given permits were still
-- held), {-1, initial, kind} when the
-- stored settings differ, {-2} for a capacity raise of a bounded semaphore.
-- Invariants: ZCARD(permits) <= capacity (handoffs included); a retried call (same
-- `done` key) raises the capacity once; nothing is written on -1/-2; a handoff's
-- permit ends after its take-by deadline (see semaphore_acquire), and both keys live
-- at least as long as the handoffs made here (TTLs are only extended).
local permits, meta, waiters, done = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local handoffs, line, tickets = KEYS[5], KEYS[6], KEYS[7]
local extra, lease, markttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window, value, kind = tonumber(ARGV[4]), ARGV[5], ARGV[6]

-- @include wrong_type

local f = redis.call('HMGET', meta, 'initial', 'kind', 'maxlease', 'capacity')
if f[1] and (f[1] ~= value or f[2] ~= kind) then
  return {-1, f[1], f[2] or ''}
end
if extra > 0 and kind == 'bounded' then
  return {-2}
end
local capacity = tonumber(f[4]) or tonumber(value)
if not f[1] then
  local err = wrong_type(permits, 'zset', 1)
  if err then return err end
  redis.call('HSET', meta, 'initial', value, 'capacity', value, 'kind', kind)
end

local removed = 0
for i = 8, #ARGV do
  removed = removed + redis.call('ZREM', permits, ARGV[i])
end
if extra > 0 and redis.call('EXISTS', done) == 0 then
  redis.call('ZCARD', permits)  -- a capacity raise with no permit to return: WRONGTYPE before any write
  capacity = redis.call('HINCRBY', meta, 'capacity', extra)
  redis.call('SET', done, '1', 'PX', markttl)
elseif removed == 0 then
  return {1, 0}
end
if redis.call('EXISTS', waiters, line) == 0 then
  return {1, removed}  -- nobody to hand a permit to (stale handoffs: acquire reclaims them)
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now)
local free = capacity - redis.call('ZCARD', permits)  -- ended leases count until acquire reclaims them
if free <= 0 then  -- handoffs nobody took in time hold permits: reclaim them (only now, see acquire)
  local stale = redis.call('ZRANGEBYSCORE', handoffs, '-inf', now, 'LIMIT', 0, 100)
  for i = 1, #stale do
    free = free + redis.call('ZREM', permits, stale[i])
    redis.call('ZREM', handoffs, stale[i])
  end
end
-- one handoff per registered waiter not yet covered by a pending handoff: a waiter
-- unregisters itself right after its pop (whichever handoff it got), so registrations
-- are never consumed here on behalf of some other waiter
local hand = math.min(free, redis.call('ZCARD', waiters) - redis.call('ZCARD', handoffs))
if hand > 0 then
  local life = window + math.max(lease, tonumber(f[3]) or 0)
  local stamp = t[1] .. string.format('%06d', tonumber(t[2]))
  for _ = 1, hand do
    -- never reuse a name: a retried (or stalled) release of an old permit must not
    -- remove a new one; the server time keeps names unique when the settings (and
    -- so seq) were deleted and stored again
    local h = '~h:' .. redis.call('HINCRBY', meta, 'seq', 1) .. '.' .. stamp
    redis.call('ZADD', permits, now + life, h)
    redis.call('ZADD', handoffs, now + window, h)
  end
  -- handoffs lives as long as their permits, so a stale one is always found and
  -- reclaimed together with its permit (never shortened: older ones may live longer)
  for _, k in ipairs({permits, handoffs}) do
    if redis.call('PTTL', k) < life then
      redis.call('PEXPIRE', k, life)
    end
  end
  free = free - hand
end

if free > 0 and redis.call('EXISTS', line) == 1 then
  local heads = redis.call('ZRANGE', line, 0, math.min(free, 100) - 1)
  for i = 1, #heads do
    local wake = ARGV[7] .. heads[i]
    redis.call('LPUSH', wake, '1')
    redis.call('PEXPIRE', wake, lease)
  end
end
return {1, removed}
