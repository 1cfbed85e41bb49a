-- A call still in flight: push its max_concurrent lease's deadline lease ms past now (XX: never revive a lease
-- that was released or expired).
-- KEYS: 1 the leases. ARGV: 1 lease id, 2 lease ms, 3 shift ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
local ms = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'XX', now + ms, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ms * 2)
return 1
