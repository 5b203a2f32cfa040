-- push_envelopes: LPUSH the envelopes ARGV[first..] onto a list queue, each with
-- `stamp` (its enqueue time) in front, in chunks of 1000 (unpack's limit).  Shared by
-- queue_put and queue_put_plain.
--
-- Returns nothing.
local function push_envelopes(queue, stamp, first)
  local n = #ARGV - first + 1
  if n == 1 then
    redis.call('LPUSH', queue, stamp .. ARGV[first])
    return
  end
  local envs = {}
  for i = first, #ARGV do envs[#envs + 1] = stamp .. ARGV[i] end
  for i = 1, n, 1000 do
    redis.call('LPUSH', queue, unpack(envs, i, math.min(i + 999, n)))
  end
end
