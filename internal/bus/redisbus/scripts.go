package redisbus

import "github.com/redis/go-redis/v9"

// The scripts keep every move of a job between the stream, the retry set and
// the dead-letter stream atomic, so a job is never lost or duplicated by two
// processes racing on it. Time comes from the server (TIME) so that clock skew
// between processes does not matter. Job fields travel through the retry set
// packed with cmsgpack.

// settleScript ends one delivery that the calling consumer still owns.
// KEYS: stream, retry, dead. ARGV: group, consumer, entry id, mode
// ("retry", "dead" or "ready"), delay ms, fields...
var settleScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
local f = {}
for i = 6, #ARGV do f[#f + 1] = ARGV[i] end
if ARGV[4] == 'retry' then
  local t = redis.call('TIME')
  local due = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[5])
  redis.call('ZADD', KEYS[2], string.format('%d', due), cmsgpack.pack(f))
elseif ARGV[4] == 'dead' then
  redis.call('XADD', KEYS[3], '*', unpack(f))
else
  redis.call('XADD', KEYS[1], '*', unpack(f))
end
return 1
`)

// promoteScript moves due retries into the stream and returns the ms until
// the next one is due (-1 if none).
// KEYS: retry, stream. ARGV: batch size.
var promoteScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now), 'LIMIT', 0, tonumber(ARGV[1]))
for _, m in ipairs(due) do
  if redis.call('ZREM', KEYS[1], m) == 1 then
    redis.call('XADD', KEYS[2], '*', unpack(cmsgpack.unpack(m)))
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt == 0 then return -1 end
local d = tonumber(nxt[2]) - now
if d < 0 then d = 0 end
return d
`)

// reclaimScript takes entries left unacknowledged longer than the visibility
// timeout (their consumer crashed or hung) and re-adds them as a new delivery
// attempt, or dead-letters them once that attempt would exceed MaxAttempts.
// It returns how many entries it claimed.
// KEYS: stream, dead. ARGV: group, consumer, min idle ms, batch, max attempts, error.
var reclaimScript = redis.NewScript(`
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0', 'COUNT', tonumber(ARGV[4]))
local max = tonumber(ARGV[5])
local n = 0
for _, e in ipairs(r[2]) do
  local id, f = e[1], e[2]
  redis.call('XACK', KEYS[1], ARGV[1], id)
  redis.call('XDEL', KEYS[1], id)
  n = n + 1
  if type(f) == 'table' then
    local nf = {}
    local attempt = 1
    for i = 1, #f, 2 do
      if f[i] == 'attempt' then
        attempt = tonumber(f[i + 1]) or 1
      elseif f[i] ~= 'error' then
        nf[#nf + 1] = f[i]
        nf[#nf + 1] = f[i + 1]
      end
    end
    nf[#nf + 1] = 'attempt'
    if attempt >= max then
      nf[#nf + 1] = tostring(attempt)
      nf[#nf + 1] = 'error'
      nf[#nf + 1] = ARGV[6]
      redis.call('XADD', KEYS[2], '*', unpack(nf))
    else
      nf[#nf + 1] = tostring(attempt + 1)
      redis.call('XADD', KEYS[1], '*', unpack(nf))
    end
  end
end
return n
`)

// heartbeatScript resets the idle time of entries the consumer still owns, so
// a live consumer's long-running jobs are not reclaimed.
// KEYS: stream. ARGV: group, consumer, entry ids...
var heartbeatScript = redis.NewScript(`
local n = 0
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p > 0 and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    n = n + 1
  end
end
return n
`)

// redriveScript moves up to a batch of dead letters back into the stream with
// a fresh attempt budget and returns how many it moved.
// KEYS: dead, stream. ARGV: batch size.
var redriveScript = redis.NewScript(`
local es = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[1]))
for _, e in ipairs(es) do
  local f = e[2]
  local nf = {}
  for i = 1, #f, 2 do
    if f[i] ~= 'attempt' and f[i] ~= 'error' then
      nf[#nf + 1] = f[i]
      nf[#nf + 1] = f[i + 1]
    end
  end
  nf[#nf + 1] = 'attempt'
  nf[#nf + 1] = '1'
  redis.call('XADD', KEYS[2], '*', unpack(nf))
  redis.call('XDEL', KEYS[1], e[1])
end
return #es
`)

// statsScript returns {ready, delayed, in flight, dead, oldest wait ms or -1}.
// Acknowledged entries are deleted, so the stream holds exactly the ready
// and the in-flight entries.
// KEYS: stream, retry, dead. ARGV: group.
var statsScript = redis.NewScript(`
local xlen = redis.call('XLEN', KEYS[1])
local pending = 0
local last = nil
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
if type(groups) == 'table' and not groups.err then
  for _, g in ipairs(groups) do
    local name, p, l
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1]
      elseif g[i] == 'pending' then p = g[i + 1]
      elseif g[i] == 'last-delivered-id' then l = g[i + 1] end
    end
    if name == ARGV[1] then
      pending = p
      last = l
    end
  end
end
local wait = -1
if xlen > pending then
  local r
  if last then
    r = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
  else
    r = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  end
  if #r > 0 then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    wait = now - tonumber(string.match(r[1][1], '^(%d+)'))
    if wait < 0 then wait = 0 end
  end
end
local ready = xlen - pending
if ready < 0 then ready = 0 end
return {ready, redis.call('ZCARD', KEYS[2]), pending, redis.call('XLEN', KEYS[3]), wait}
`)

// dropConsumerScript removes a consumer from the group unless it still owns
// entries (which would be lost with it).
// KEYS: stream. ARGV: group, consumer.
var dropConsumerScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then return 0 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
`)
