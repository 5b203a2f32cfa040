-- dict_pop: remove a field and return its value, atomically (dict.pop).
--
-- KEYS[1] hash     the object's hash
-- ARGV[1] field    encoded field
--
-- Returns the removed value, or nil when the field was absent (nothing changed).
local hash = KEYS[1]
local field = ARGV[1]

local value = redis.call('HGET', hash, field)
if value then
  redis.call('HDEL', hash, field)
end
return value
