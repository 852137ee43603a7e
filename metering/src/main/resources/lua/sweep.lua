-- Refund one expired reservation (its gateway died before settling). ZREM makes it exactly-once
-- against a late settle: whichever removes the member first applies its effect.
-- KEYS: 1 reservations zset, 2 account credits, 3 account credits held by open reservations,
--       4 (only for a key with a budget) the key's spend in its budget window
-- ARGV: 1 reservation member, 2 credits reserved, 3 credit policy (0: the balance was not involved)
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if removed == 1 and ARGV[3] ~= '0' then
  redis.call('INCRBY', KEYS[2], tonumber(ARGV[2]))
  if ARGV[3] == '2' then
    redis.call('DECRBY', KEYS[3], tonumber(ARGV[2]))
  end
end
-- Key budget (issue 16): the hold goes back to the key's budget, whatever the credit policy.
if removed == 1 and #KEYS >= 4 then
  redis.call('DECRBY', KEYS[4], tonumber(ARGV[2]))
end
return removed
