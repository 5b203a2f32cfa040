-- request: a producer's retry guard, shared by queue_put and queue_zput.  A request
-- is '' (no guard) or '[?]n/[+]ttl': the producer's request number n; '?' marks a
-- retry (check the guard first); ttl: ms the guard lives, '+' renews it now (else an
-- existing guard keeps its TTL, which is cheaper).  `producer` is the string key
-- holding the producer's last applied request.
--
-- Returns (split_request): req, guard (nil for ''), applied (true when this is a
-- retry of the request last applied: the caller must not apply it again).
-- mark_request(producer, req, guard) records req as applied; it returns nothing.
local function split_request(producer, req)
  local guard
  if req ~= '' then
    local slash = string.find(req, '/', 1, true)
    req, guard = string.sub(req, 1, slash - 1), string.sub(req, slash + 1)
  end
  if string.byte(req, 1) == 63 then -- '?'
    req = string.sub(req, 2)
    if redis.call('GET', producer) == req then return req, guard, true end
  end
  return req, guard, false
end

local function mark_request(producer, req, guard)
  if guard then
    local renew = string.byte(guard, 1) == 43 -- '+'
    if renew or not redis.call('SET', producer, req, 'XX', 'KEEPTTL') then
      redis.call('SET', producer, req, 'PX', renew and string.sub(guard, 2) or guard)
    end
  end
end
