-- string_replace: store new text at a key, atomically, refusing to overwrite another Redis type.
--
-- KEYS[1] text   Redis string holding UTF-8 text (the collection's main key)
-- ARGV[1] new    the new text ('' deletes the key: an empty String has no key)
--
-- Returns the new length in bytes.
-- Invariants: a key of another type raises WRONGTYPE and nothing is written
-- (plain SET would silently replace a list or hash); the TTL is kept.
local text = KEYS[1]
local new = ARGV[1]

-- @include wrong_type
local err = wrong_type(text, 'string', 1)
if err then return err end
if new == '' then
  redis.call('DEL', text)
else
  redis.call('SET', text, new, 'KEEPTTL')
end
return #new
