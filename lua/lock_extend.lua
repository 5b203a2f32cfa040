-- lock_extend: add time to the remaining lease of a held lock, if the owner still
-- holds it.  Idempotent per call: the first run of a request computes the absolute
-- end of the extended lease (server time) and records it; a repeat of the same
-- request (a retry whose reply was lost) only makes sure that end still holds, so
-- the time is added once.
--
-- KEYS[1] lock   hash {owner: depth, "@"..owner: last request id,
--                "@"..owner.."#extend": "<req>:<end ms>" of its last extend}
-- ARGV[1] owner  owner id
-- ARGV[2] add    milliseconds to add to the remaining TTL
-- ARGV[3] req    request id of this extend call (same value on a retry)
--
-- Returns the new TTL in milliseconds (> 0), or 0 when the owner no longer holds it.
local lock, owner, add, req = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
if redis.call('HEXISTS', lock, owner) == 0 then
  return 0
end
local field = '@' .. owner .. '#extend'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = redis.call('PTTL', lock)
if ttl < 0 then
  ttl = 0
end
local done = redis.call('HGET', lock, field)
if done then
  local sep = string.find(done, ':', 1, true)
  if sep and string.sub(done, 1, sep - 1) == req then
    local left = tonumber(string.sub(done, sep + 1)) - now
    if ttl < left then
      redis.call('PEXPIRE', lock, left)
      ttl = left
    end
    if ttl < 1 then  -- still held: never report 0 ("not held")
      ttl = 1
    end
    return ttl
  end
end
redis.call('PEXPIRE', lock, ttl + add)
redis.call('HSET', lock, field, req .. ':' .. (now + ttl + add))
return ttl + add
