-- number_iop: apply one Python numeric operator in place to the number stored at a key.
--
-- KEYS[1] number   string: a decimal integer or a float's text (missing: 0)
-- KEYS[2] operand  optional: a string holding the right operand (missing: 0)
-- ARGV[1] op       add sub mul truediv floordiv mod pow lshift rshift and or xor
-- ARGV[2] operand  the right operand as text (str() of an int, repr() of a float);
--                  ignored when KEYS[2] is given
--
-- Semantics are Python's.  int op int stays an int, computed exactly on 24-bit
-- limbs (Lua numbers are doubles, exact only to 2^53) and stored only if it fits
-- the signed 64-bit range of Redis integers (operands may be wider, up to 40 digits:
-- 5 & (2**64 - 1) is 5, 5 >> 2**70 is 0); truediv and negative powers give a
-- float, as in Python.  Anything involving a float is IEEE double arithmetic with
-- CPython's rules for //, % and ** (float_div_mod, float_pow).  A float is stored
-- as its shortest round-trip text, laid out as Python's repr lays it out.
--
-- Returns {'i' or 'f', text}: the type of the result and the text now stored
-- (SET ... KEEPTTL: a TTL on the key is kept, as INCRBY keeps it).
-- Errors, with nothing written:
--   'OVERFLOW i'        an int result outside the signed 64-bit range
--   'OVERFLOW f'        a float power out of range (Python's OverflowError 34)
--   'INTFLOAT'          float arithmetic with an int beyond the double range
--   'INTDIV'            int / int whose quotient is beyond the double range
--   'ZERODIV <op> <t>'  division or modulo by zero, or 0.0 ** negative (t: i or f)
--   'NAN <which>'       the stored value (which=value) or the operand is not a number
--   'COMPLEX'           a negative float raised to a fractional power
--   'TYPE <op>'         a bitwise or shift operator with a float operand
--   'NEGSHIFT'          a negative shift count
--   WRONGTYPE           KEYS[1] is not a string; '... (key #2)' when KEYS[2] is not
-- Why one script for all operators: they share the exact-integer arithmetic below
-- (no shared Lua preludes), and each call is still one operation on one key.
local number, source = KEYS[1], KEYS[2]
local op, operand = ARGV[1], ARGV[2]

local B = 16777216 -- limb base 2^24: a limb product plus carries stays below 2^53

local function trim(m)
  while #m > 0 and m[#m] == 0 do m[#m] = nil end
  return m
end
local function mk(neg, m) trim(m); return {neg = neg and #m > 0, m = m} end
local function cmp(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  for i = #a, 1, -1 do
    if a[i] ~= b[i] then return a[i] < b[i] and -1 or 1 end
  end
  return 0
end
local function add(a, b)
  local r, c = {}, 0
  for i = 1, math.max(#a, #b) do
    local v = (a[i] or 0) + (b[i] or 0) + c
    r[i], c = v % B, math.floor(v / B)
  end
  if c > 0 then r[#r + 1] = c end
  return r
end
local function sub(a, b) -- requires a >= b
  local r, c = {}, 0
  for i = 1, #a do
    local v = a[i] - (b[i] or 0) - c
    if v < 0 then v, c = v + B, 1 else c = 0 end
    r[i] = v
  end
  return trim(r)
end
local function mul(a, b)
  local r = {}
  for i = 1, #a + #b + 1 do r[i] = 0 end
  for i = 1, #a do
    local c = 0
    for j = 1, #b do
      local v = r[i + j - 1] + a[i] * b[j] + c
      r[i + j - 1], c = v % B, math.floor(v / B)
    end
    r[i + #b] = r[i + #b] + c
  end
  return trim(r)
end
local function divmod(a, b) -- magnitudes, b ~= 0: binary long division
  local q, r = {}, {}
  for i = #a, 1, -1 do
    q[i] = 0
    for k = 23, 0, -1 do
      local c = math.floor(a[i] / 2 ^ k) % 2
      for j = 1, #r do
        local v = r[j] * 2 + c
        r[j], c = v % B, math.floor(v / B)
      end
      if c > 0 then r[#r + 1] = c end
      if cmp(r, b) >= 0 then
        r = sub(r, b)
        q[i] = q[i] + 2 ^ k
      end
    end
  end
  return trim(q), r
end

local function parse_int(s)
  local sign, digits = string.match(s, '^([%+%-]?)(%d+)$')
  if not digits then return nil end
  if #digits > 40 then return false end -- far outside any range we can store
  local m = {}
  for i = 1, #digits do
    local c = tonumber(string.sub(digits, i, i))
    for j = 1, #m do
      local v = m[j] * 10 + c
      m[j], c = v % B, math.floor(v / B)
    end
    if c > 0 then m[#m + 1] = c end
  end
  return mk(sign == '-', m)
end
local function fmt_int(x)
  local m, out = {}, {}
  for i = 1, #x.m do m[i] = x.m[i] end
  while #m > 0 do
    local r = 0
    for j = #m, 1, -1 do
      local v = r * B + m[j]
      m[j], r = math.floor(v / 10), v % 10
    end
    trim(m)
    out[#out + 1] = r
  end
  if #out == 0 then return '0' end
  return (x.neg and '-' or '') .. string.reverse(table.concat(out))
end

local MAX = parse_int('9223372036854775807').m
local W = 6 -- limbs of the two's complement for bitwise operators: 144 bits, wider than any
local TOP = {0, 0, 0, 0, 0, 0, 1} -- operand parse_int accepts (40 digits < 2^133); TOP = 2^144
local function fits(x)
  local c = cmp(x.m, MAX)
  return c <= 0 or (x.neg and cmp(x.m, add(MAX, {1})) == 0)
end
local function sadd(x, y)
  if x.neg == y.neg then return mk(x.neg, add(x.m, y.m)) end
  if cmp(x.m, y.m) >= 0 then return mk(x.neg, sub(x.m, y.m)) end
  return mk(y.neg, sub(y.m, x.m))
end
local function smul(x, y) return mk(x.neg ~= y.neg, mul(x.m, y.m)) end
local function sdivmod(x, y) -- Python's floor division and modulo
  local q, r = divmod(x.m, y.m)
  if x.neg ~= y.neg and #r > 0 then
    q, r = add(q, {1}), sub(y.m, r)
  end
  return mk(x.neg ~= y.neg, q), mk(y.neg, r)
end
local function small(x) -- magnitude as a Lua number when below 2^48, else nil
  if #x.m > 2 then return nil end
  return (x.m[1] or 0) + (x.m[2] or 0) * B
end
local function pow2(n) local m = {}; for i = 1, math.floor(n / 24) do m[i] = 0 end; m[#m + 1] = 2 ^ (n % 24); return mk(false, m) end
local function spow(x, e)
  local result, base, bits = mk(false, {1}), x, {}
  for i = 1, #e.m do
    for k = 0, 23 do bits[#bits + 1] = math.floor(e.m[i] / 2 ^ k) % 2 end
  end
  trim(bits)
  for i = 1, #bits do
    if bits[i] == 1 then
      result = smul(result, base)
      if not fits(result) then return nil end
    end
    if i < #bits then
      base = smul(base, base)
      if not fits(base) then return nil end
    end
  end
  return result
end
local function twos(x) -- W limbs of the 144-bit two's complement of x (|x| < 2^143)
  local m = x.neg and sub(TOP, x.m) or x.m
  local l = {}
  for i = 1, W do l[i] = m[i] or 0 end
  return l
end
local function untwos(l)
  if l[W] >= B / 2 then return mk(true, sub(TOP, trim(l))) end
  return mk(false, l)
end

local function int_op(a, b)
  if op == 'add' then return sadd(a, b) end
  if op == 'sub' then return sadd(a, mk(not b.neg, b.m)) end
  if op == 'mul' then return smul(a, b) end
  if op == 'floordiv' or op == 'mod' then
    if #b.m == 0 then return nil, 'ZERODIV ' .. op .. ' i' end
    local q, r = sdivmod(a, b)
    return op == 'floordiv' and q or r
  end
  if op == 'pow' then return spow(a, b) end
  -- operands may exceed 64 bits (x &= 2**64 - 1, x >>= 2**70): only the result must fit
  if op == 'lshift' or op == 'rshift' then
    if b.neg then return nil, 'NEGSHIFT' end
    local n = small(b)
    if op == 'lshift' then
      if #a.m == 0 then return a end
      if not n or n >= 64 then return nil end -- |a| >= 1: |a| * 2^64 and beyond never fit
      return smul(a, pow2(n))
    end
    if not n or n >= 24 * W then return mk(a.neg, a.neg and {1} or {}) end -- every bit shifted out
    return (sdivmod(a, pow2(n)))
  end
  local f = (op == 'and' and bit.band) or (op == 'or' and bit.bor) or bit.bxor
  local x, y, r = twos(a), twos(b), {}
  for i = 1, W do r[i] = f(x[i], y[i]) end
  return untwos(r)
end

local z = 0
local NEGZERO = -z
local function zero_like(v) -- copysign(0.0, v)
  if v < 0 or (v == 0 and 1 / v < 0) then return NEGZERO end
  return 0.0
end
local function odd(v) return math.fmod(math.abs(v), 2) == 1 end
local function float_pow(x, y) -- CPython's float_pow
  if y == 0 then return 1.0 end
  if x ~= x then return x end
  if y ~= y then return x == 1 and 1.0 or y end
  if y == math.huge or y == -math.huge then
    local ax = math.abs(x)
    if ax == 1 then return 1.0 end
    if (y > 0) == (ax > 1) then return math.huge end
    return 0.0
  end
  if x == math.huge or x == -math.huge then
    if y > 0 then return odd(y) and x or math.abs(x) end
    return odd(y) and zero_like(x) or 0.0
  end
  if x == 0 then
    if y < 0 then return nil, 'ZERODIV pow f' end
    return odd(y) and x or 0.0
  end
  local negate = false
  if x < 0 then
    if y ~= math.floor(y) then return nil, 'COMPLEX' end
    x, negate = -x, odd(y)
  end
  if x == 1 then return negate and -1.0 or 1.0 end
  local r = x ^ y
  if r == math.huge then return nil, 'OVERFLOW f' end
  return negate and -r or r
end
local function float_op(x, y)
  if op == 'add' then return x + y end
  if op == 'sub' then return x - y end
  if op == 'mul' then return x * y end
  if op == 'pow' then return float_pow(x, y) end
  if y == 0 then return nil, 'ZERODIV ' .. op .. ' f' end
  if op == 'truediv' then return x / y end
  local mod = math.fmod(x, y) -- CPython's _float_div_mod
  local div = (x - mod) / y
  if mod ~= 0 then
    if (y < 0) ~= (mod < 0) then mod, div = mod + y, div - 1 end
  else
    mod = zero_like(y)
  end
  if op == 'mod' then return mod end
  if div ~= 0 then
    local fl = math.floor(div)
    if div - fl > 0.5 then fl = fl + 1 end
    return fl
  end
  return zero_like(x / y)
end
local function bump(s) -- '[-]d.ddde+XX' -> the next decimal of as many digits, away from 0
  local sign, d1, rest, e = string.match(s, '^(%-?)(%d)%.?(%d*)e([%+%-]%d+)$')
  local digits, exp, i = d1 .. rest, tonumber(e), #d1 + #rest
  while i > 0 and string.sub(digits, i, i) == '9' do i = i - 1 end
  if i == 0 then
    digits, exp = '1' .. string.rep('0', #digits - 1), exp + 1
  else
    digits = string.sub(digits, 1, i - 1) .. (tonumber(string.sub(digits, i, i)) + 1) .. string.rep('0', #digits - i)
  end
  local frac = string.sub(digits, 2)
  return sign .. string.sub(digits, 1, 1) .. (#frac > 0 and '.' .. frac or '') .. string.format('e%+03d', exp)
end
local function fmt_float(x) -- Python's repr: shortest text that reads back as x
  if x ~= x then return 'nan' end
  if x == math.huge then return 'inf' end
  if x == -math.huge then return '-inf' end
  if x == 0 then return (1 / x < 0) and '-0.0' or '0.0' end
  local s
  for p = 0, 16 do
    s = string.format('%.' .. p .. 'e', x)
    if tonumber(s) == x then break end
    s = bump(s) -- below a power of two the gap is asymmetric: the next decimal may fit
    if tonumber(s) == x then break end
  end
  local sign, d1, rest, e = string.match(s, '^(%-?)(%d)%.?(%d*)e([%+%-]%d+)$')
  local digits, exp = d1 .. rest, tonumber(e)
  if exp < -4 or exp >= 16 then
    local ea = math.abs(exp)
    return sign .. d1 .. (#rest > 0 and '.' .. rest or '') .. 'e' .. (exp < 0 and '-' or '+')
      .. (ea < 10 and '0' or '') .. ea
  end
  if exp < 0 then return sign .. '0.' .. string.rep('0', -exp - 1) .. digits end
  if #digits <= exp + 1 then return sign .. digits .. string.rep('0', exp + 1 - #digits) .. '.0' end
  return sign .. string.sub(digits, 1, exp + 1) .. '.' .. string.sub(digits, exp + 2)
end

local function read(text) -- ('i', int or nil when too long) | ('f', double) | nil
  local i = parse_int(text)
  if i then return 'i', i end
  if i == false then return 'i', nil end
  local f = not string.find(text, '[xX]') and tonumber(text)
  if f then return 'f', f end
  return nil
end

local stored = redis.call('GET', number) or '0'
if source then
  local got = redis.pcall('GET', source)
  if type(got) == 'table' then return redis.error_reply(got.err .. ' (key #2)') end
  operand = got or '0'
end
local ta, a = read(stored)
if not ta then return redis.error_reply('NAN value') end
local tb, b = read(operand)
if not tb then return redis.error_reply('NAN operand') end

local kind, result, err = 'i', nil, nil
if ta == 'i' and tb == 'i' and op ~= 'truediv' and not (op == 'pow' and b and b.neg) then
  if not a or not b then return redis.error_reply('OVERFLOW i') end
  result, err = int_op(a, b)
  if result and not fits(result) then result = nil end
  if not result and not err then err = 'OVERFLOW i' end
  if result then result = fmt_int(result) end
else
  if op == 'lshift' or op == 'rshift' or op == 'and' or op == 'or' or op == 'xor' then
    return redis.error_reply('TYPE ' .. op)
  end
  kind = 'f'
  local x = ta == 'i' and tonumber(stored) or a
  local y = tb == 'i' and tonumber(operand) or b
  -- an int too large for a double: Python refuses to convert it (only int / int is
  -- computed exactly, and fails only when the quotient itself is too large)
  local huge = (ta == 'i' and (x == math.huge or x == -math.huge))
    or (tb == 'i' and (y == math.huge or y == -math.huge))
  local exact = ta == 'i' and tb == 'i' and op == 'truediv'
  if huge and not exact then return redis.error_reply('INTFLOAT') end
  result, err = float_op(x, y)
  if huge and result and (result ~= result or result == math.huge or result == -math.huge) then
    return redis.error_reply('INTDIV')
  end
  if result then result = fmt_float(result) end
end
if not result then return redis.error_reply(err) end
redis.call('SET', number, result, 'KEEPTTL')
return {kind, result}
