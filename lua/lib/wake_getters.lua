-- wake_getters: wake_getters(ready, w) adds w wake-ups (at most 1000: 'w1'..'wN',
-- score 0) to a zset queue's ready set, on which blocked getters and reserve()
-- waiters BZPOPMIN; each pops one and tries again.  Shared by queue_zput,
-- queue_zrequeue and queue_shutdown.
--
-- Returns (wake_getters): nothing.
local function wake_getters(ready, w)
  local wake = {}
  for i = 1, math.min(w, 1000) do wake[#wake + 1] = 0; wake[#wake + 1] = 'w' .. i end
  redis.call('ZADD', ready, unpack(wake))
  redis.call('PEXPIRE', ready, 60000)
end
