-- Apply a committed ledger change to an account's hot balance, only if Redis holds that balance.
-- Not loaded: nothing happens (nil); the first request seeds the balance from the ledger, which
-- already has the change. One script, so the balance cannot vanish between the check and the add.
-- KEYS: 1 account credits
-- ARGV: 1 amount (negative for a debit)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]))
end
return false
