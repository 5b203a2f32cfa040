-- string_cas: replace text only if it is still exactly what the client read (compare-and-set).
--
-- KEYS[1] text     Redis string holding UTF-8 text
-- ARGV[1] digest   SHA1 (hex) of the text as read ('' for a missing key hashes as '')
-- ARGV[2] new      the new text ('' deletes the key)
--
-- Returns 1 when the text now is the new text (written, or already equal: so a
-- retry after a lost reply does not apply the change twice), 0 when the text
-- changed since it was read (nothing written).
-- Invariants: GET raises WRONGTYPE for another type before any write; TTL kept.
local text = KEYS[1]
local digest, new = ARGV[1], ARGV[2]

local current = redis.call('GET', text) or ''
if current == new then
  return 1
end
if redis.sha1hex(current) ~= digest then
  return 0
end
if new == '' then
  redis.call('DEL', text)
else
  redis.call('SET', text, new, 'KEEPTTL')
end
return 1
