-- A call still in flight: push its max_concurrent lease's deadline lease ms past now. A lease that was released or
-- has expired stays so (its slot may be another call's already).
-- KEYS: 1 the leases. ARGV: 1 lease id, 2 lease ms, 3 shift ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
local ms = tonumber(ARGV[2])
local deadline = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if not deadline or deadline <= now then return 0 end
redis.call('ZADD', KEYS[1], now + ms, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ms * 2)
return 1
