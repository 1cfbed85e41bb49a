-- One admission: check every window of one key and, only if all pass, count the call in all of them.
-- Time is the Redis server's (TIME), never a replica's. Every key written gets a TTL.
--
-- KEYS: 1 hash of the fixed windows: h (hour index), hn, d (day index), dn, tdn (tokens of the day),
--         tms (sum of the tokens in the list KEYS[3])
--       2 list: admission times (ms) of the last minute, oldest first
--       3 list: "time:tokens" records of the last minute, oldest first
--       4 sorted set: max_concurrent leases, scored by their deadline (ms)
--       5 set: the day's client IPs
-- ARGV: 1 the key's limits, space-separated: requests_per_minute, requests_per_hour, requests_per_day,
--         tokens_per_minute, tokens_per_day, max_concurrent, max_ips (0: no such limit), lease ms
--       2 client IP ('' unknown), 3 lease id, 4 shift ms (0; tests move the clock with it),
--       5 '1' to count the call when every check passes, '0' to check only
-- Returns, space-separated in one string (one reply to read): failed checks (bit mask), now, minute requests,
--   oldest, newest, hour requests, day requests, minute tokens, newest token record, when the minute tokens fall
--   below the limit, day tokens
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[4])
local rpm, rph, rpd, tpm, tpd, maxc, maxips, lease_ms = string.match(ARGV[1], '(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+)')
rpm, rph, rpd, tpm, tpd = tonumber(rpm), tonumber(rph), tonumber(rpd), tonumber(tpm), tonumber(tpd)
maxc, maxips, lease_ms = tonumber(maxc), tonumber(maxips), tonumber(lease_ms)
local ip, lease = ARGV[2], ARGV[3]
local MINUTE, HOUR, DAY = 60000, 3600000, 86400000
local cutoff = now - MINUTE
local hour, day = math.floor(now / HOUR), math.floor(now / DAY)
local fixed = rph > 0 or rpd > 0 or tpm > 0 or tpd > 0 or maxips > 0

local hn, dn, tdn, tms, same_day = 0, 0, 0, 0, false
if fixed then
  local f = redis.call('HMGET', KEYS[1], 'h', 'hn', 'd', 'dn', 'tdn', 'tms')
  if tonumber(f[1]) == hour then hn = tonumber(f[2]) or 0 end
  same_day = tonumber(f[3]) == day
  if same_day then
    dn = tonumber(f[4]) or 0
    tdn = tonumber(f[5]) or 0
  end
  tms = tonumber(f[6]) or 0
end

local fail = 0
local rm_n, rm_old, rm_new = 0, 0, 0
if rpm > 0 then
  while true do
    local head = redis.call('LINDEX', KEYS[2], 0)
    if not head or tonumber(head) > cutoff then break end
    redis.call('LPOP', KEYS[2])
  end
  rm_n = redis.call('LLEN', KEYS[2])
  if rm_n >= rpm then fail = fail + 1 end
end
if rph > 0 and hn >= rph then fail = fail + 2 end
if rpd > 0 and dn >= rpd then fail = fail + 4 end

local tm_new, tm_free, tms_changed = 0, 0, false
if tpm > 0 then
  while true do
    local head = redis.call('LINDEX', KEYS[3], 0)
    if not head then break end
    local sep = string.find(head, ':', 1, true)
    if tonumber(string.sub(head, 1, sep - 1)) > cutoff then break end
    redis.call('LPOP', KEYS[3])
    tms = tms - tonumber(string.sub(head, sep + 1))
    tms_changed = true
  end
  local last = redis.call('LINDEX', KEYS[3], -1)
  if last then
    tm_new = tonumber(string.sub(last, 1, string.find(last, ':', 1, true) - 1))
  elseif tms ~= 0 then
    tms, tms_changed = 0, true
  end
  if tms >= tpm then
    fail = fail + 8
    local left = tms
    local records = redis.call('LRANGE', KEYS[3], 0, -1)
    for i = 1, #records do
      local sep = string.find(records[i], ':', 1, true)
      left = left - tonumber(string.sub(records[i], sep + 1))
      if left < tpm then
        tm_free = tonumber(string.sub(records[i], 1, sep - 1)) + MINUTE
        break
      end
    end
  end
end
if tpd > 0 and tdn >= tpd then fail = fail + 16 end

local new_ip = false
if maxips > 0 and ip ~= '' then
  if not same_day then
    new_ip = true  -- the set belongs to an earlier day: it is dropped when this call counts
  elseif redis.call('SISMEMBER', KEYS[5], ip) == 0 then
    new_ip = true
    if redis.call('SCARD', KEYS[5]) >= maxips then fail = fail + 64 end
  end
end

if maxc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)  -- a crashed call's slot frees at its deadline
  if redis.call('ZCARD', KEYS[4]) >= maxc then fail = fail + 32 end
end

if fail == 0 and ARGV[5] == '1' then
  if rpm > 0 then
    redis.call('RPUSH', KEYS[2], now)
    redis.call('PEXPIRE', KEYS[2], MINUTE)
    rm_n = rm_n + 1
  end
  if rph > 0 then hn = hn + 1 end  -- a window counts from when its limit is set
  if rpd > 0 then dn = dn + 1 end
  if fixed then
    local keep = (day + 1) * DAY - now + MINUTE
    if not same_day then redis.call('DEL', KEYS[5]) end
    redis.call('HSET', KEYS[1], 'h', hour, 'hn', hn, 'd', day, 'dn', dn, 'tdn', tdn, 'tms', tms)
    redis.call('PEXPIRE', KEYS[1], keep)
    if new_ip then
      redis.call('SADD', KEYS[5], ip)
      redis.call('PEXPIRE', KEYS[5], keep)
    end
  end
  if maxc > 0 then
    redis.call('ZADD', KEYS[4], now + lease_ms, lease)
    redis.call('PEXPIRE', KEYS[4], lease_ms * 2)
  end
elseif tms_changed then
  redis.call('HSET', KEYS[1], 'tms', tms)
end

if rm_n > 0 then
  rm_old = tonumber(redis.call('LINDEX', KEYS[2], 0))
  rm_new = tonumber(redis.call('LINDEX', KEYS[2], -1))
end
return string.format('%d %d %d %d %d %d %d %d %d %d %d', fail, now, rm_n, rm_old, rm_new, hn, dn, tms, tm_new, tm_free, tdn)
