-- dict_popitem: remove an arbitrary field and return it with its value, atomically
-- (dict.popitem; a Redis hash has no order, so the field is picked by HRANDFIELD).
--
-- KEYS[1] hash     the object's hash
--
-- Returns {field, value}, or nil when the hash is empty or missing.
-- Needs Redis >= 6.2 (HRANDFIELD).
local hash = KEYS[1]

local field = redis.call('HRANDFIELD', hash)
if not field then
  return nil
end
local value = redis.call('HGET', hash, field)
redis.call('HDEL', hash, field)
return {field, value}
