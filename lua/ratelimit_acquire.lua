-- ratelimit_acquire: one GCRA decision on the server clock, atomically: admit now,
-- or reserve the earliest slot when the wait is within max_wait (the theoretical
-- arrival time moves on, so the caller only sleeps), or refuse with the retry-after.
--
-- KEYS[1] limiter  string: struct '<dddd' {tat: theoretical arrival time (server
--                  µs), at: when the last admitted request may proceed (server µs),
--                  iv, burst}; PEXPIRE = until tat, so an idle limiter vanishes (no
--                  key = a full burst).  (Older versions appended a request id: ignored.)
-- KEYS[2] recent   zset: id of each recently admitted request -> when it may proceed
--                  (server µs): the retry guard.  Entries older than ARGV[6] are
--                  dropped, and all but the newest ARGV[7]; PEXPIRE = the longer of
--                  ARGV[6] and the limiter's TTL
-- ARGV[1] iv       emission interval in microseconds (per / rate; decimal string)
-- ARGV[2] burst    admissions that may happen at the same instant (integer >= 1)
-- ARGV[3] cost     admissions this request takes (1 <= cost <= burst)
-- ARGV[4] maxwait  longest wait (µs) the caller accepts; -1 = any; 0 = now or never
-- ARGV[5] req      request id (same on a retry)
-- ARGV[6] window   milliseconds a request id is remembered (> the client's retry budget)
-- ARGV[7] keep     most request ids remembered
--
-- Returns {1, 0, remaining} admitted now, {2, wait, remaining} admitted after `wait`
-- µs (slot reserved), {0, retry_after, remaining} refused (retry_after: µs until a
-- request of this cost would be admitted), {-1, iv, burst} when the limiter is in use
-- with other settings.  remaining: cost-1 admissions still possible right now.  A
-- retry of a request found in KEYS[2] changes nothing and gets {1 or 2, wait left, 0}.
-- Invariant: admissions over any window of length W never exceed burst + W / iv; a
-- request is admitted at most once while its id is remembered (refusals change nothing).
local key, recent = KEYS[1], KEYS[2]
local iv, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local cost, maxwait, req = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local window, keep = tonumber(ARGV[6]), tonumber(ARGV[7])

local state = redis.call('GET', key)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = now
if state then
  local s_tat, _, s_iv, s_burst = struct.unpack('<dddd', state)
  if math.abs(s_iv - iv) > iv * 1e-9 or s_burst ~= burst then  -- (equal limits may differ in the last bit)
    return {-1, tostring(s_iv), tostring(s_burst)}
  end
  tat = math.max(s_tat, now)
end
local seen = redis.call('ZSCORE', recent, req)
if seen then
  local left = math.max(tonumber(seen) - now, 0)
  return {left > 0 and 2 or 1, math.ceil(left), 0}
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
redis.call('ZADD', recent, now + wait, req)
redis.call('ZREMRANGEBYSCORE', recent, '-inf', now - window * 1000)
redis.call('ZREMRANGEBYRANK', recent, 0, -keep - 1)  -- all but the newest `keep` (none if fewer)
redis.call('PEXPIRE', recent, math.max(window, ttl))
local remaining = math.max(math.floor((now + burst * iv - new) / iv + 1e-6), 0)
if wait > 0 then
  return {2, math.ceil(wait), remaining}
end
return {1, 0, remaining}
