-- semaphore_tokens: the settings and token bookkeeping every semaphore script shares.
-- (Include lib/wrong_type first.)
--   settings(meta, tokens, holders, index, value, kind): read the settings, storing
--     them first when missing (`index`: the free list's place in KEYS, for a
--     WRONGTYPE error naming it);
--   give_back(tokens, gen, token): return a token to the free list unless it is of an
--     older generation; empty_into(tokens, gen, list): give back all `list` holds;
--   add_tokens(meta, tokens, gen, n): mint n more tokens (a capacity raise);
--   settle(holders, holder, held, tokens, gen, first): the holder's registration
--     deadline, nil when it is not registered (never, or reaped: a negative score is a
--     tombstone, see semaphore_reap), after giving back what its list must not keep:
--     everything when not registered (it landed after a reap, or the keys were lost),
--     else the tokens of its lost permits named in ARGV[first..];
--   ended(holders, now, out): append to `out` up to 10 holders whose registration
--     ended and the 5 oldest tombstones (reaped holders, kept a grace period).
--
-- Tokens are "<generation>.<n>".  A generation of `capacity` tokens is minted when
-- the settings are stored, and again whenever nobody is registered ({K}:holders is
-- gone: every holder's lease ended long ago) while the free list does not hold exactly
-- `capacity` tokens: the tokens of holders that died then (nobody can reap them any
-- more) are replaced, and tokens of the old generation are dropped when returned.
--
-- Returns (settings): capacity, generation, nil when usable; nil, nil, reply when the
-- script must return `reply`: a WRONGTYPE error (nothing written) or {-1, initial,
-- kind} (the stored settings differ; nothing written).
local function add_tokens(meta, tokens, gen, n)
  local first = redis.call('HINCRBY', meta, 'minted', n) - n
  local batch = {}
  for i = 1, n do
    batch[#batch + 1] = gen .. '.' .. (first + i)
    if #batch == 100 or i == n then
      redis.call('LPUSH', tokens, unpack(batch))
      batch = {}
    end
  end
end

local function mint(meta, tokens, capacity)
  local t = redis.call('TIME')
  local gen = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('DEL', tokens)
  redis.call('HSET', meta, 'gen', gen, 'minted', 0)
  add_tokens(meta, tokens, gen, capacity)
  return gen
end

local function settings(meta, tokens, holders, index, value, kind)
  local f = redis.call('HMGET', meta, 'initial', 'kind', 'capacity', 'gen')
  if f[1] then
    if f[1] ~= value or f[2] ~= kind then
      return nil, nil, {-1, f[1], f[2] or ''}
    end
    local capacity = tonumber(f[3])
    local free = redis.call('LLEN', tokens)  -- not a list: WRONGTYPE, before any write
    if redis.call('EXISTS', holders) == 0 and (not f[4] or free ~= capacity) then
      return capacity, mint(meta, tokens, capacity), nil
    end
    return capacity, f[4], nil
  end
  local err = wrong_type(tokens, 'list', index)
  if err then
    return nil, nil, err
  end
  redis.call('HSET', meta, 'initial', value, 'capacity', value, 'kind', kind)
  return tonumber(value), mint(meta, tokens, tonumber(value)), nil
end

local function give_back(tokens, gen, token)
  if string.sub(token, 1, #gen + 1) == gen .. '.' then
    redis.call('LPUSH', tokens, token)
    return 1
  end
  return 0
end

local function empty_into(tokens, gen, list)
  local moved, token = 0, redis.call('RPOP', list)
  while token do
    moved = moved + give_back(tokens, gen, token)
    token = redis.call('RPOP', list)
  end
  return moved
end

local function settle(holders, holder, held, tokens, gen, first)
  local score = tonumber(redis.call('ZSCORE', holders, holder))
  if score and score < 0 then
    score = nil
  end
  if not score then
    empty_into(tokens, gen, held)
  else
    for i = first, #ARGV do
      if redis.call('LREM', held, 1, ARGV[i]) == 1 then
        give_back(tokens, gen, ARGV[i])
      end
    end
  end
  return score
end

local function ended(holders, now, out)
  local found = redis.call('ZRANGEBYSCORE', holders, 0, '(' .. now, 'LIMIT', 0, 10)
  -- tombstones oldest first (a score is minus the reap time): those past their grace
  -- are removed by the reap, so the set stays bounded however many holders come and go
  local old = redis.call('ZREVRANGEBYSCORE', holders, '(0', '-inf', 'LIMIT', 0, 5)
  for _, list in ipairs({found, old}) do
    for i = 1, #list do
      out[#out + 1] = list[i]
    end
  end
  return out
end
