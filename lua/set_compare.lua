-- set_compare: sizes of two sets and of their intersection, at one instant (read-only).
--
-- KEYS[1] a   Redis set of codec-encoded members
-- KEYS[2] b   another set in the same slot (may be KEYS[1])
--
-- Returns {|a|, |b|, |a & b|}: enough for ==, <, <=, >, >=, issubset,
-- issuperset and isdisjoint.
local a, b = KEYS[1], KEYS[2]

return {redis.call('SCARD', a), redis.call('SCARD', b), #redis.call('SINTER', a, b)}
