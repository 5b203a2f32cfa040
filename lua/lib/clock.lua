-- clock: clock() is the server's time in ms, read (TIME) on first use only, also
-- kept in `now` once read.  Included by scripts that need the time on some paths.
--
-- Returns (clock): milliseconds since the epoch, the same value on every call.
local now
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end
