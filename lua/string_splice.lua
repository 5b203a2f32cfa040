-- string_splice: text[i] = s, text[a:b:c] = s, del text[i] or del text[a:b:c], atomically, by code point.
--
-- KEYS[1] text    Redis string holding UTF-8 text (lone surrogates as 3-byte sequences)
-- ARGV[1] mode    'index' (ARGV[2] is one position) or 'slice' (ARGV[2..4] are start, stop, step)
-- ARGV[2] start   integer; negative counts from the end (client sends +-2^53 for a missing bound)
-- ARGV[3] stop    integer (slice only)
-- ARGV[4] step    non-zero integer (slice only)
-- ARGV[5] op      'set' (replace with ARGV[6]) or 'del'
-- ARGV[6] text    the replacement ('set' only); with a step other than 1, one code point per position
--
-- Returns {1, new length in code points}; {0} for an index out of range; {-1, k}
-- when an extended slice of k positions got a replacement of another length.
-- Invariants: bounds follow PySlice_AdjustIndices; nothing is written in the
-- error cases; the new text replaces the old in one SET (KEEPTTL), '' deletes the key.
local text = KEYS[1]
local mode, op, repl = ARGV[1], ARGV[5], ARGV[6] or ''
local start, stop, step = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local function chars(s)
  local t = {}
  for c in string.gmatch(s, '[^\128-\191][\128-\191]*') do t[#t + 1] = c end
  return t
end
local cs = chars(redis.call('GET', text) or '')
local n = #cs
local function adjust(i)
  if i < 0 then
    i = i + n
    if i < 0 then i = (step < 0) and -1 or 0 end
  elseif i >= n then
    i = (step < 0) and n - 1 or n
  end
  return i
end
if mode == 'index' then
  if start < 0 then start = start + n end
  if start < 0 or start >= n then return {0} end
  stop, step = start + 1, 1
else
  start, stop = adjust(start), adjust(stop)
end
local k = 0
if step < 0 and stop < start then
  k = math.floor((start - stop - 1) / -step) + 1
elseif step > 0 and start < stop then
  k = math.floor((stop - start - 1) / step) + 1
end
local out = {}
if step == 1 then
  for i = 1, start do out[#out + 1] = cs[i] end
  if op == 'set' then out[#out + 1] = repl end
  for i = math.max(stop, start) + 1, n do out[#out + 1] = cs[i] end
else
  local rs = chars(repl)
  if op == 'set' and #rs ~= k then return {-1, k} end
  for i = 0, n - 1 do
    local d = i - start
    if not (d % step == 0 and d / step >= 0 and d / step < k) then
      out[#out + 1] = cs[i + 1]
    elseif op == 'set' then
      out[#out + 1] = rs[d / step + 1]
    end
  end
end
local new = table.concat(out)
if new == '' then
  redis.call('DEL', text)
else
  redis.call('SET', text, new, 'KEEPTTL')
end
local _, len = string.gsub(new, '[^\128-\191]', '')
return {1, len}
