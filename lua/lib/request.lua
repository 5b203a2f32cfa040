-- request: a producer's retry guard, shared by the put scripts.  Two ARGV carry it:
-- the request, '' (no guard) or '[?]n': the producer's request number n, '?' marking
-- a retry (check the guard first); and the guard, '' (none) or '[+]ttl': ms the
-- guard lives, '+' renewing it now (else an existing guard keeps its TTL, which is
-- cheaper).  `producer` is the string key holding the producer's last applied request.
--
-- Returns (split_request): req (without '?'), applied (true when this is a retry of
-- the request last applied: the caller must not apply it again).
-- mark_request(producer, req, guard) records req as applied; it returns nothing.
local function split_request(producer, req)
  if string.byte(req, 1) == 63 then -- '?'
    req = string.sub(req, 2)
    if redis.call('GET', producer) == req then return req, true end
  end
  return req, false
end

local function mark_request(producer, req, guard)
  if guard == '' then return end
  if string.byte(guard, 1) == 43 then -- '+'
    redis.call('SET', producer, req, 'PX', string.sub(guard, 2))
  elseif not redis.call('SET', producer, req, 'XX', 'KEEPTTL') then
    redis.call('SET', producer, req, 'PX', guard)
  end
end
