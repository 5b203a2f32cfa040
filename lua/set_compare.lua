-- set_compare: sizes of two sets and of their intersection, at one instant (read-only).
--
-- KEYS[1] a   Redis set of codec-encoded members
-- KEYS[2] b   another set in the same slot (may be KEYS[1])
--
-- Returns {|a|, |b|, |a & b|}: enough for ==, <, <=, >, >=, issubset,
-- issuperset and isdisjoint.
-- Errors: WRONGTYPE when KEYS[1] is not a set, 'WRONGTYPE ... (key #2)' when KEYS[2] is not.
local a, b = KEYS[1], KEYS[2]

local size_a = redis.call('SCARD', a)
local size_b = redis.pcall('SCARD', b)
if type(size_b) == 'table' then return redis.error_reply(size_b.err .. ' (key #2)') end
return {size_a, size_b, #redis.call('SINTER', a, b)}
