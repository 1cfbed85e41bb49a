-- The end of admitted calls of one key: free their max_concurrent leases and count the tokens they used.
-- KEYS: 1 the fixed windows' hash, 2 the minute's token records, 3 the leases, 4 the day's IPs (admit.lua)
-- ARGV: 1 lease ids, separated by spaces ('' none), 2 their tokens together, 3 '1' when the key has
--       tokens_per_minute, 4 '1' for tokens_per_day, 5 shift ms
if ARGV[1] ~= '' then
  local leases = {}
  for lease in string.gmatch(ARGV[1], '%S+') do
    leases[#leases + 1] = lease
    if #leases == 1000 then  -- unpack's limit is a few thousand values
      redis.call('ZREM', KEYS[3], unpack(leases))
      leases = {}
    end
  end
  if #leases > 0 then redis.call('ZREM', KEYS[3], unpack(leases)) end
end
local n = tonumber(ARGV[2])
if n <= 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[5])
local MINUTE, DAY = 60000, 86400000
local day = math.floor(now / DAY)
if ARGV[3] == '1' then
  if redis.call('LLEN', KEYS[2]) == 0 then
    redis.call('HSET', KEYS[1], 'tms', n)
  else
    redis.call('HINCRBY', KEYS[1], 'tms', n)
  end
  redis.call('RPUSH', KEYS[2], string.format('%d:%d', now, n))
  redis.call('PEXPIRE', KEYS[2], MINUTE)
end
if ARGV[4] == '1' then
  if tonumber(redis.call('HGET', KEYS[1], 'd')) == day then
    redis.call('HINCRBY', KEYS[1], 'tdn', n)
  else  -- the first count of a new day: the earlier day's counts and IPs go
    redis.call('HSET', KEYS[1], 'd', day, 'dn', 0, 'tdn', n)
    redis.call('DEL', KEYS[4])
  end
end
redis.call('PEXPIRE', KEYS[1], (day + 1) * DAY - now + MINUTE)
return 1
