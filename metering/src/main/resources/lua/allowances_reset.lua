-- A new billing period for billable actions: clear the account's allowance counters and bump
-- their generation, so that reservations taken in the old period give nothing back to the new one.
-- A hash that was not loaded is left alone (the first action loads it from Postgres, which then
-- already counts from the new period's start).
-- KEYS: 1 the account's allowance hash
-- Returns: the new generation, or false when the hash was not loaded
if redis.call('HEXISTS', KEYS[1], '@gen') == 0 then
  return false
end
local generation = redis.call('HINCRBY', KEYS[1], '@gen', 1)
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if field ~= '@gen' then
    redis.call('HDEL', KEYS[1], field)
  end
end
return generation
