-- wake_getters: wake_getters(ready, w, cap) adds up to w wake-ups to a zset queue's
-- ready set, on which blocked getters and reserve() waiters BZPOPMIN; each pops one
-- and tries again.  Wake-ups are distinct members ('w1', 'w2'... score 0, skipping the
-- names still pending), so that two calls before anyone wakes add two wake-ups; at
-- most cap (<= 1000) are pending afterwards (cap: the callers that may be blocked).
-- Shared by queue_zput, queue_zrequeue and queue_shutdown.
--
-- Returns (wake_getters): nothing.
local function wake_getters(ready, w, cap)
  local n = math.min(w, math.min(cap, 1000) - redis.call('ZCARD', ready))
  local wake, i = {}, 0
  while #wake < 2 * n do
    i = i + 1
    if not redis.call('ZSCORE', ready, 'w' .. i) then wake[#wake + 1] = 0; wake[#wake + 1] = 'w' .. i end
  end
  if n > 0 then redis.call('ZADD', ready, unpack(wake)) end
  redis.call('PEXPIRE', ready, 60000)
end
