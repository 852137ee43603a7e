-- Refund one expired reservation (its gateway died before settling). ZREM makes it exactly-once
-- against a late settle: whichever removes the member first applies its effect.
-- KEYS: 1 reservations zset, 2 account credits, 3 account credits held by open reservations,
--       4 the account's allowance hash (billable actions), 5 (only for a key with a budget) the
--       key's spend in its budget window
-- ARGV: 1 reservation member, 2 credits reserved, 3 credit policy (0: the balance was not involved),
--       4 tier, 5 allowance units held, 6 their generation (billable actions; '' and 0 otherwise)
-- Also cancels a billable action's reservation (POST /tollgate/v1/reservations/{id}/cancel).
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
-- Billable actions: give back the allowance units, unless the period rolled over since.
if removed == 1 and (ARGV[4] or '') ~= '' and tonumber(ARGV[5]) > 0
    and (redis.call('HGET', KEYS[4], '@gen') or '0') == ARGV[6] then
  redis.call('HINCRBY', KEYS[4], ARGV[4], -tonumber(ARGV[5]))
end
if removed == 1 and ARGV[3] ~= '0' then
  redis.call('INCRBY', KEYS[2], tonumber(ARGV[2]))
  if ARGV[3] == '2' then
    redis.call('DECRBY', KEYS[3], tonumber(ARGV[2]))
  end
end
-- Key budget (issue 16): the hold goes back to the key's budget, whatever the credit policy.
if removed == 1 and #KEYS >= 5 then
  redis.call('DECRBY', KEYS[5], tonumber(ARGV[2]))
end
return removed
