-- wake_putters: wake_putters(putters, space, free, now) makes sure enough wake-ups wait
-- in `space` (a list; one element wakes one putter blocked on BLPOP) for the putters
-- registered in `putters` that `free` slots can admit.  A putter is registered (by
-- queue_put / queue_zput) as 'putter id|need' -> deadline (server ms); a member
-- without '|need' needs 1.  When every live putter needs the same d: floor(free / d)
-- of them fit, and that many are woken.  When needs differ and at least one fits, every
-- putter is woken (at most 1000): BLPOP serves the blocked putters in the order they
-- blocked, so a wake-up meant for a putter that fits may reach one that does not,
-- which would keep it without passing it on.  Each woken putter tries once; those that
-- do not fit register again and block.  Only the first 1000 putters are read.
-- Shared by queue_space, queue_pop and queue_zpop.
--
-- Returns (wake_putters): the number of wake-ups pushed.
local function wake_putters(putters, space, free, now)
  redis.call('ZREMRANGEBYSCORE', putters, '-inf', now)
  if free <= 0 then return 0 end
  local all = redis.call('ZRANGE', putters, 0, 999)
  if #all == 0 then return 0 end
  local first, least, mixed = nil, nil, false
  for i = 1, #all do
    local need = tonumber(string.match(all[i], '|(%d+)$')) or 1
    first = first or need
    if need ~= first then mixed = true end
    if not least or need < least then least = need end
  end
  local want
  if least > free then
    want = 0
  elseif mixed then
    want = #all
  else
    want = math.min(#all, math.floor(free / first))
  end
  local push = want - redis.call('LLEN', space)
  for _ = 1, push do redis.call('LPUSH', space, '1') end
  if push > 0 then redis.call('PEXPIRE', space, 60000) end
  return math.max(push, 0)
end
