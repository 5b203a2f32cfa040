-- dict_setdefault: read a field, first storing the given value when the field is absent
-- (dict.setdefault and DefaultDict's default_factory: HSETNX and HGET as one step).
--
-- KEYS[1] hash     the object's hash
-- ARGV[1] field    encoded field
-- ARGV[2] value    encoded value stored only if the field is absent
--
-- Returns the field's value after the call: ARGV[2] if it was stored, otherwise
-- the value that was already there.
local hash = KEYS[1]
local field, value = ARGV[1], ARGV[2]

if redis.call('HSETNX', hash, field, value) == 1 then
  return value
end
return redis.call('HGET', hash, field)
