-- queue_init: create a queue's configuration, or check a new object against it, atomically.
--
-- KEYS[1] meta   hash {kind, maxsize, max_attempts, shutdown, unfinished, seq}
-- KEYS[2] queue  the queue's main key (read only: its type is checked before a write)
-- ARGV[1] kind          queue class name (Queue, LifoQueue, PriorityQueue, ...)
-- ARGV[2] maxsize       integer >= 0 (0 = unbounded)
-- ARGV[3] max_attempts  integer > 0, or '' when the caller did not choose one
-- ARGV[4] type          'list' or 'zset': the Redis type of the variant's main key
--
-- Returns {0, max_attempts or '', shutdown 0/1} when the caller may use the key,
-- {1, stored kind} / {2, stored maxsize} / {3, stored max_attempts} on a conflict;
-- a WRONGTYPE error naming KEYS[2] (nothing written) when a setting is to be stored
-- and the main key holds another Redis type (a key already used for something else).
-- Invariant: kind and maxsize never change once stored; max_attempts is stored by
-- the first object that names one.
local meta, queue = KEYS[1], KEYS[2]
local kind, maxsize, maxatt, want = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

-- @include wrong_type
-- (the main key's type is checked only on the rare paths that store a setting)

local cur = redis.call('HMGET', meta, 'kind', 'maxsize', 'max_attempts', 'shutdown')
if not cur[1] then
  local err = wrong_type(queue, want, 2)
  if err then return err end
  redis.call('HSET', meta, 'kind', kind, 'maxsize', maxsize)
  cur[2] = maxsize
elseif cur[1] ~= kind then
  return {1, cur[1]}
end
if cur[2] ~= maxsize then
  return {2, cur[2]}
end
if maxatt ~= '' then
  if not cur[3] then
    local err = wrong_type(queue, want, 2)
    if err then return err end
    redis.call('HSET', meta, 'max_attempts', maxatt)
    cur[3] = maxatt
  elseif cur[3] ~= maxatt then
    return {3, cur[3]}
  end
end
return {0, cur[3] or '', cur[4] and 1 or 0}
