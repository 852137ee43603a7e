-- Loads an account's allowance counters of the current period from Postgres' sums, only if they
-- are not loaded (no '@gen'): a concurrent loader or a rollover that got there first wins.
-- KEYS: 1 the account's allowance hash
-- ARGV: tier/used pairs
if redis.call('HEXISTS', KEYS[1], '@gen') == 1 then
  return 0
end
redis.call('HSET', KEYS[1], '@gen', '0')
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
