-- number_set: store a number's text, refusing a key of another Redis type
-- (Int/Float construction with initial=, and assignment to .value).
--
-- KEYS[1] number   string holding the number
-- ARGV[1] text     str() of an int or repr() of a float
--
-- Returns 1.
-- Invariants: a key holding a hash, list, set... is refused (WRONGTYPE from STRLEN)
-- before anything changes; a TTL on the key is kept (SET ... KEEPTTL), as the in-place
-- operators (number_iop) and INCRBY keep it: assigning a value is not a new key.
local number = KEYS[1]
local text = ARGV[1]

redis.call('STRLEN', number)
redis.call('SET', number, text, 'KEEPTTL')
return 1
