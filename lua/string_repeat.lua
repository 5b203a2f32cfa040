-- string_repeat: text *= times, atomically.
--
-- KEYS[1] text    Redis string holding UTF-8 text
-- ARGV[1] times   integer repeat count (<= 0 empties the text, which deletes the key)
-- ARGV[2] limit   largest size of the result in bytes
--
-- Returns the new length in bytes, or -1 (nothing written) when the result
-- would exceed the limit.
-- Invariants: GET raises WRONGTYPE before any write; SET replaces in one step
-- (nothing is deleted first); TTL kept.
local text = KEYS[1]
local times, limit = tonumber(ARGV[1]), tonumber(ARGV[2])

local current = redis.call('GET', text)
if not current or times == 1 then
  return current and #current or 0
end
if times <= 0 then
  redis.call('DEL', text)
  return 0
end
if #current * times > limit then
  return -1
end
redis.call('SET', text, string.rep(current, times), 'KEEPTTL')
return #current * times
