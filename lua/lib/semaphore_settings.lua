-- semaphore_settings: store_settings(meta, permits, index, value, kind) stores a
-- semaphore's settings in `meta` when it has none, unless the semaphore's main key
-- `permits` holds a Redis type other than a zset: then nothing is written and the
-- script answers WRONGTYPE naming that key by its index in the caller's KEYS, so a
-- semaphore on a key already used for something else leaves no settings behind.
--
-- Returns (store_settings): nil when stored, or the error reply to return.
local function store_settings(meta, permits, index, value, kind)
  local t = redis.call('TYPE', permits)['ok']
  if t ~= 'zset' and t ~= 'none' then
    return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value (key #' .. index .. ')')
  end
  redis.call('HSET', meta, 'initial', value, 'capacity', value, 'kind', kind)
end
