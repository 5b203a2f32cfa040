-- wrong_type: wrong_type(key, kind, index) checks, before a script's first write, that
-- `key` holds a `kind` (a type name as TYPE reports it: 'list', 'zset', ...) or nothing.
-- `index` is the key's place in the script's KEYS, for the error to name it.
--
-- Returns (wrong_type): nil when the key may be used, else the error reply to return:
-- 'WRONGTYPE ... (key #index)', from which hotsync.client names that key.
local function wrong_type(key, kind, index)
  local t = redis.call('TYPE', key)['ok']
  if t ~= kind and t ~= 'none' then
    return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value (key #' .. index .. ')')
  end
end
