-- Settlement: charge the actual cost, release the rest of the reservation and append the usage
-- event to the shard's stream, atomically, so the balance and the event log never disagree.
-- KEYS: 1 account credits, 2 reservations zset, 3 usage stream, 4 key tpm, 5 account tpm,
--       6 account credits held by open reservations, 7 account overage this period,
--       8-9 billable actions (below), 10 (only for a key with a budget) the key's spend in its
--       budget window
-- ARGV: 1 reservation member, 2 credits reserved, 3 credits actually used (>= 0),
--       4 tokens estimated at admission, 5 tokens actually used, 6 key tpm limit,
--       7 account tpm limit, 8 credit policy (0: the balance is not involved, 1 enforce, 2 charge
--       and bill the overage), 9-12 billable actions (below), 13.. usage event field/value pairs
-- Returns: 1 if the reservation was still held (0: the sweeper had refunded it), balance, overage
-- The event gets an `overage` field: the part of its credits that the balance did not cover
-- (policy 2 only), which is what reaches the Stripe meter for a hybrid account.
local FIELDS = 13
local reserved = tonumber(ARGV[2])
local actual = tonumber(ARGV[3])
local held = redis.call('ZREM', KEYS[2], ARGV[1])

-- ---- Billable actions (issue 15). Proxied requests pass ARGV 12 = ''.
-- KEYS[8] the account's allowance hash, KEYS[9] the event's idempotency key
-- ARGV: 9 tier ('' none), 10 allowance units to give back (held at admission, not used),
--       11 the allowance generation they were taken from, 12 how long (ms) the event's id stays
--       known after settling ('0': not an idempotent event)
-- An action settles only a held reservation: one cancelled, committed or swept is not charged
-- (a proxied request whose reservation was swept still pays, below).
local action = (ARGV[12] or '') ~= ''
if action and held == 0 then
  return {0, -1, 0}
end
if action then
  local give_back = tonumber(ARGV[10])
  -- After a period rollover the counters are new: units of the old period are not given to it.
  if ARGV[9] ~= '' and give_back > 0 and (redis.call('HGET', KEYS[8], '@gen') or '0') == ARGV[11] then
    redis.call('HINCRBY', KEYS[8], ARGV[9], -give_back)
  end
  if ARGV[12] ~= '0' then
    redis.call('SET', KEYS[9], ARGV[FIELDS + 1], 'PX', ARGV[12])
  end
end
-- ---- end of billable actions
local balance = -1
local overage = 0
if ARGV[8] == '2' then
  -- Credits not yet spent = the balance plus what open reservations hold (this one included while
  -- held). The balance covers what it can of the actual cost; the rest is overage, billed by meter
  -- and never taken from the balance, so a later top-up is not spent on usage already billed.
  local open = tonumber(redis.call('GET', KEYS[6]) or '0')
  local unspent = tonumber(redis.call('GET', KEYS[1]) or '0') + open
  local covered = actual
  if unspent < covered then covered = math.max(unspent, 0) end
  overage = actual - covered
  if held == 1 then
    balance = redis.call('INCRBY', KEYS[1], reserved - covered)
    redis.call('DECRBY', KEYS[6], reserved)
  else
    balance = redis.call('DECRBY', KEYS[1], covered)
  end
  if overage > 0 then
    redis.call('INCRBY', KEYS[7], overage)
  end
elseif ARGV[8] ~= '0' then
  if held == 1 then
    balance = redis.call('INCRBY', KEYS[1], reserved - actual)
  else
    -- The reservation expired and was refunded by the sweeper: charge the whole actual cost now.
    balance = redis.call('DECRBY', KEYS[1], actual)
  end
end

-- Key budget (issue 16): the key's spend held the reservation; it now holds the actual cost. If
-- the sweeper already gave the hold back, the actual cost is added whole (like the balance above).
if #KEYS >= 10 then
  if held == 1 then
    redis.call('INCRBY', KEYS[10], actual - reserved)
  else
    redis.call('INCRBY', KEYS[10], actual)
  end
end

-- Give back to the token buckets what the estimate took beyond actual use (never above capacity).
local unused = tonumber(ARGV[4]) - tonumber(ARGV[5])
if unused ~= 0 then
  local buckets = {{KEYS[4], tonumber(ARGV[6])}, {KEYS[5], tonumber(ARGV[7])}}
  for _, b in ipairs(buckets) do
    local key, limit = b[1], b[2]
    if limit > 0 then
      local level = tonumber(redis.call('HGET', key, 't'))
      if level ~= nil then
        level = level + unused
        if level > limit then level = limit end
        redis.call('HSET', key, 't', tostring(level))
      end
    end
  end
end

local fields = {}
for i = FIELDS, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
fields[#fields + 1] = 'overage'
fields[#fields + 1] = tostring(overage)
redis.call('XADD', KEYS[3], '*', unpack(fields))
return {held, balance, overage}
