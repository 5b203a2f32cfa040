-- string_len: length of a text in code points, as Python's len(str) counts them (read-only).
--
-- KEYS[1] text   Redis string holding UTF-8 text (lone surrogates as 3-byte sequences)
--
-- Returns the number of code points: bytes that are not UTF-8 continuation
-- bytes (0x80-0xBF); 0 for a missing key.
local text = KEYS[1]

local current = redis.call('GET', text)
if not current then
  return 0
end
local _, n = string.gsub(current, '[^\128-\191]', '')
return n
