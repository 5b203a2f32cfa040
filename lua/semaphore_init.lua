-- semaphore_init: store a semaphore's settings if it has none (minting its tokens),
-- atomically, or check them against the caller's (two processes must never enforce
-- different limits).
--
-- KEYS[1] meta     hash {initial: value at creation, capacity: permits in total,
--                  kind: 'semaphore' | 'bounded', seq: fair-line counter}; no TTL
-- KEYS[2] tokens   list of free tokens (the semaphore's main key)
-- KEYS[3] holders  zset holder id -> lease deadline (server ms) (read only)
-- ARGV[1] value    the caller's initial value (integer >= 0, decimal string)
-- ARGV[2] kind     'semaphore' or 'bounded'
--
-- Returns {1} when the settings were created or match, {-1, initial, kind} when the
-- stored ones differ; a WRONGTYPE error naming KEYS[2] (nothing written) when the
-- main key holds something other than a list.
-- Invariant: `initial` and `kind` never change once stored; capacity starts at initial.
-- @include wrong_type
-- @include semaphore_tokens

local meta, tokens, holders = KEYS[1], KEYS[2], KEYS[3]
local value, kind = ARGV[1], ARGV[2]
local _, _, reply = settings(meta, tokens, holders, 2, value, kind)
return reply or {1}
