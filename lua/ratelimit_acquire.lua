-- ratelimit_acquire: one GCRA decision on the server clock, atomically: admit now,
-- or reserve the earliest slot when the wait is within max_wait (the theoretical
-- arrival time moves on, so the caller only sleeps), or refuse with the retry-after.
--
-- KEYS[1] limiter  string: struct '<dddd' {tat: theoretical arrival time (server
--                  µs), at: when the last admitted request may proceed (server µs),
--                  iv, burst}; PEXPIRE = until tat, so an idle limiter vanishes (no
--                  key = a full burst).  (Older versions appended a request id: ignored.)
-- KEYS[2] guard    string, the retry guard of the calling thread (one per process and
--                  thread: it has one decision in flight at a time): 'req at' of its
--                  last admitted request (at: when it may proceed, server µs);
--                  PX = ARGV[6]
-- ARGV[1] iv       emission interval in microseconds (per / rate; decimal string)
-- ARGV[2] burst    admissions that may happen at the same instant (integer >= 1)
-- ARGV[3] cost     admissions this request takes (1 <= cost <= burst)
-- ARGV[4] maxwait  longest wait (µs) the caller accepts; -1 = any; 0 = now or never
-- ARGV[5] req      request id (same on a retry)
-- ARGV[6] window   milliseconds the guard lives (> the client's retry budget)
--
-- Returns {1, 0, remaining} admitted now, {2, wait, remaining} admitted after `wait`
-- µs (slot reserved), {0, retry_after, remaining} refused (retry_after: µs until a
-- request of this cost would be admitted), {-1, iv, burst} when the limiter is in use
-- with other settings, {-2} when KEYS[1] is a string that is not a limiter (too short,
-- or limits no RateLimiter can have; nothing written).  remaining: cost-1 admissions still possible right now.  A
-- retry of the request KEYS[2] names changes nothing and gets {1 or 2, wait left, 0}.
-- Invariant: admissions over any window of length W never exceed burst + W / iv; a
-- request is admitted at most once while its guard lives (refusals change nothing).
local key, guard = KEYS[1], KEYS[2]
local iv, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local cost, maxwait, req = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local window = ARGV[6]

local state = redis.call('GET', key)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = now
if state then
  if #state < 32 then  -- not four doubles: a user's string, not a limiter
    return {-2}
  end
  local s_tat, _, s_iv, s_burst = struct.unpack('<dddd', state)
  -- the limits a RateLimiter can have (1 µs <= iv, iv * burst <= 1e8 s, burst a count):
  -- anything else is a user's text that happened to be long enough (NaN fails too)
  if not (s_iv >= 0.999 and s_burst >= 1 and s_burst == math.floor(s_burst) and s_iv * s_burst <= 1.001e14
          and s_tat == s_tat and s_tat < 1e300) then
    return {-2}
  end
  if math.abs(s_iv - iv) > iv * 1e-9 or s_burst ~= burst then  -- (equal limits may differ in the last bit)
    return {-1, tostring(s_iv), tostring(s_burst)}
  end
  tat = math.max(s_tat, now)
end
local last = redis.call('GET', guard)
if last then
  local space = string.find(last, ' ', 1, true)
  if string.sub(last, 1, space - 1) == req then
    local left = math.max(tonumber(string.sub(last, space + 1)) - now, 0)
    return {left > 0 and 2 or 1, math.ceil(left), 0}
  end
end

local new = tat + cost * iv
local wait = new - burst * iv - now
if wait >= 1 and maxwait >= 0 and wait > maxwait then
  return {0, math.ceil(wait), math.max(math.floor((now + burst * iv - tat) / iv + 1e-6), 0)}
end
if wait < 1 then
  wait = 0
end
local ttl = math.ceil((new - now) / 1000) + 1
redis.call('SET', key, struct.pack('<dddd', new, now + wait, iv, burst), 'PX', ttl)
redis.call('SET', guard, req .. ' ' .. string.format('%.0f', now + wait), 'PX', window)
local remaining = math.max(math.floor((now + burst * iv - new) / iv + 1e-6), 0)
if wait > 0 then
  return {2, math.ceil(wait), remaining}
end
return {1, 0, remaining}
