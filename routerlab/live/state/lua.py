"""The Lua scripts of the Redis state backend: each read-modify-write of shared state is one script, so it is
atomic on the Redis server, and every time in it is the Redis server's own clock (``TIME``), the one clock
all replicas share. Scripts return durations ("seconds from now"), never absolute times, so each process
turns them into its own monotonic clock. Numbers that may be fractional go back as strings (Redis would
truncate a Lua number to an integer)."""

from __future__ import annotations

__all__ = ["BUCKETS", "LEDGER_RESERVE", "LEDGER_RELEASE", "LEDGER_CHARGE", "BREAKER", "COOLDOWN"]

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# Token buckets of one deployment: KEYS = rpm bucket, tpm bucket. ARGV = mode ('admit' | 'wait' | 'force'),
# rpm per second, rpm capacity, tpm per second, tpm capacity (a rate of 0: no such limit), requests, tokens.
# 'admit' takes 1 request and `tokens` only if both buckets have room (min(n, capacity)); 'wait' only says
# how long until they would; 'force' takes (or, negative, gives back) without asking. Returns
# {admitted (1/0), seconds to wait, rpm level, tpm level}.
BUCKETS = _NOW + """
local mode = ARGV[1]
local rates = {tonumber(ARGV[2]), tonumber(ARGV[4])}
local caps = {tonumber(ARGV[3]), tonumber(ARGV[5])}
local want = {tonumber(ARGV[6]), tonumber(ARGV[7])}
local level, wait = {0, 0}, 0
for i = 1, 2 do
  if rates[i] > 0 then
    local b = redis.call('HMGET', KEYS[i], 'tokens', 't')
    local tokens, last = tonumber(b[1]) or caps[i], tonumber(b[2]) or now
    level[i] = math.min(caps[i], tokens + (now - last) * rates[i])
    local need = math.min(want[i], caps[i])
    if need > level[i] then wait = math.max(wait, (need - level[i]) / rates[i]) end
  end
end
local admitted = 0
if mode == 'force' or (mode == 'admit' and wait == 0) then
  admitted = 1
  for i = 1, 2 do
    if rates[i] > 0 then
      level[i] = math.min(caps[i], level[i] - want[i])
      redis.call('HSET', KEYS[i], 'tokens', tostring(level[i]), 't', tostring(now))
      -- an idle bucket refills to its capacity: the key may go once that long has passed
      redis.call('PEXPIRE', KEYS[i], math.ceil((caps[i] - math.min(level[i], 0)) / rates[i] * 1000) + 1000)
    end
  end
end
return {admitted, tostring(wait), tostring(level[1]), tostring(level[2])}
"""

# Budget reservations. KEYS = spent hash, held-by-owner hash (of this process), holders set.
# ARGV = amount, owner key, hold ttl (s), then per scope: field, cap ('' = none). A hold counts while its
# owner's hash lives (each owner's hash expires `ttl` after its last change: a dead replica's holds go).
# Returns {1, spent per scope...} or {0, index of the scope, spent, held}.
LEDGER_RESERVE = """
local amount, owner, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local holders = redis.call('SMEMBERS', KEYS[3])
local spent = {}
local n = (#ARGV - 3) / 2
for s = 1, n do
  local field, cap = ARGV[2 + 2 * s], ARGV[3 + 2 * s]
  spent[s] = tonumber(redis.call('HGET', KEYS[1], field)) or 0
  if cap ~= '' then
    local held = 0
    for _, h in ipairs(holders) do
      local v = redis.call('HGET', h, field)
      if v then held = held + tonumber(v) elseif redis.call('EXISTS', h) == 0 then redis.call('SREM', KEYS[3], h) end
    end
    cap = tonumber(cap)
    if spent[s] + held >= cap or spent[s] + held + amount > cap then
      return {0, s, tostring(spent[s]), tostring(held)}
    end
  end
end
for s = 1, n do redis.call('HINCRBYFLOAT', KEYS[2], ARGV[2 + 2 * s], amount) end
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('SADD', KEYS[3], KEYS[2])
local out = {1}
for s = 1, n do out[s + 1] = tostring(spent[s]) end
return out
"""

# KEYS = held-by-owner hash. ARGV = amount, ttl, fields... (never below zero)
LEDGER_RELEASE = """
local amount = tonumber(ARGV[1])
for i = 3, #ARGV do
  local left = tonumber(redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], -amount))
  if left < 1e-12 then redis.call('HSET', KEYS[1], ARGV[i], 0) end
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""

# KEYS = spent hash, rows hash. ARGV = cost, row id, ok (1/0), input, output, cached, cache-write tokens,
# scope fields... Returns the total spent.
LEDGER_CHARGE = """
local cost = tonumber(ARGV[1])
local row = ARGV[2]
for i = 8, #ARGV do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], cost) end
local counts = {answers = tonumber(ARGV[3]), attempts = 1, failed_attempts = 1 - tonumber(ARGV[3]),
                input_tokens = tonumber(ARGV[4]), output_tokens = tonumber(ARGV[5]), cached_tokens = tonumber(ARGV[6]),
                cache_write_tokens = tonumber(ARGV[7])}
for k, v in pairs(counts) do redis.call('HINCRBY', KEYS[2], row .. '\\31' .. k, v) end
redis.call('HINCRBYFLOAT', KEYS[2], row .. '\\31cost', cost)
return redis.call('HGET', KEYS[1], ARGV[8])
"""

# One deployment's circuit breaker: the state machine of routerlab.live.breaker.CircuitBreaker on the Redis
# clock. KEYS = state hash, window list. ARGV = window, minimum calls, failure rate, slow-call rate, slow
# duration (-1: none), open duration, multiplier, max open duration, probes, op ('status' | 'acquire' |
# 'record' | 'reset'), then for 'record': permit generation, probe (1/0), outcome ('s' | 'f' | 'i'), duration.
# Returns {permit generation (-1: none), probe, state (0 closed, 1 open, 2 half-open), seconds until it
# half-opens, probes left, window calls, failures, slow calls, consecutive openings, openings, {transitions},
# the failure and slow-call rates of the window that opened it ('nan' when closed)}.
BREAKER = _NOW + """
local W, M, F, S, SLOW = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local D, MULT, MAXD, P, op = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]
local H, WK = KEYS[1], KEYS[2]
local h = redis.call('HMGET', H, 'st', 'gen', 'ou', 'co', 'op', 'pa', 'ps', 'nf', 'ns', 'fr', 'sr')
local st, gen, ou = tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0
local co, opn, pa, ps = tonumber(h[4]) or 0, tonumber(h[5]) or 0, tonumber(h[6]) or 0, tonumber(h[7]) or 0
local nf, nsl = tonumber(h[8]) or 0, tonumber(h[9]) or 0
local fr, sr = h[10] or 'nan', h[11] or 'nan'
local moves = {}
local function move(to, why)
  table.insert(moves, st .. '>' .. to .. '>' .. why)
  st = to
  gen = gen + 1
end
local function clear() redis.call('DEL', WK); nf = 0; nsl = 0 end
local function open(why)
  local n = redis.call('LLEN', WK)
  if n > 0 then fr = tostring(nf / n); sr = tostring(nsl / n) else fr = '1'; sr = 'nan' end
  local d = math.min(MAXD, D * MULT ^ co)
  co = co + 1; opn = opn + 1; ou = now + d
  clear()
  move(1, why .. '; open ' .. string.format('%g', d) .. 's')
end
local function close(why)
  co = 0; ou = 0; pa = 0; ps = 0; fr = 'nan'; sr = 'nan'
  clear()
  if st ~= 0 then move(0, why) end
end
if st == 1 and now >= ou then move(2, 'open period over'); pa = 0; ps = 0 end
local permit, probe = -1, 0
if op == 'acquire' then
  if st == 0 then permit = gen
  elseif st == 2 and pa < P then pa = pa + 1; permit = gen; probe = 1 end
elseif op == 'record' then
  local pgen, pprobe, outcome, dur = tonumber(ARGV[11]), tonumber(ARGV[12]), ARGV[13], tonumber(ARGV[14])
  if pgen == gen and st ~= 1 then
    local slow = SLOW >= 0 and dur >= 0 and dur >= SLOW
    if outcome == 'i' then
      if pprobe == 1 and pa > 0 then pa = pa - 1 end
    elseif st == 2 then
      if outcome == 'f' then open('probe failed')
      elseif slow then open('slow probe')
      else
        ps = ps + 1
        if ps >= P then close('probes succeeded') end
      end
    else
      local failed = outcome == 'f'
      redis.call('RPUSH', WK, (failed and '1' or '0') .. (slow and '1' or '0'))
      if failed then nf = nf + 1 end
      if slow then nsl = nsl + 1 end
      local n = redis.call('LLEN', WK)
      if n > W then
        local old = redis.call('LPOP', WK)
        if string.sub(old, 1, 1) == '1' then nf = nf - 1 end
        if string.sub(old, 2, 2) == '1' then nsl = nsl - 1 end
        n = n - 1
      end
      if n >= M then
        if nf / n >= F then open('failure rate ' .. nf .. '/' .. n)
        elseif SLOW >= 0 and nsl / n >= S then open('slow-call rate ' .. nsl .. '/' .. n) end
      end
    end
  end
elseif op == 'reset' then
  close('reset')
end
redis.call('HSET', H, 'st', st, 'gen', gen, 'ou', tostring(ou), 'co', co, 'op', opn, 'pa', pa, 'ps', ps, 'nf', nf,
           'ns', nsl, 'fr', fr, 'sr', sr)
local left = 0
if st == 1 then left = ou - now end
local probes = 0
if st == 2 then probes = P - pa end
return {permit, probe, st, tostring(left), probes, redis.call('LLEN', WK), nf, nsl, co, opn, moves, fr, sr}
"""

# Cooldowns after a Retry-After: KEYS = hash deployment -> deadline (Redis clock). ARGV = op ('get' | 'extend'
# | 'clear'), deployment, seconds from now (extend). Returns seconds from now to the deadline ('' if none).
COOLDOWN = _NOW + """
local op, name = ARGV[1], ARGV[2]
if op == 'clear' then redis.call('HDEL', KEYS[1], name); return '' end
local cur = tonumber(redis.call('HGET', KEYS[1], name))
if op == 'extend' then
  local new = now + tonumber(ARGV[3])
  if cur == nil or new > cur then cur = new; redis.call('HSET', KEYS[1], name, tostring(cur)) end
end
if cur == nil then return '' end
return tostring(cur - now)
"""
