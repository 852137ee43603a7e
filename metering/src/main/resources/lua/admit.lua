-- Admission: token buckets (requests and tokens per minute, per key and per account) and a
-- credit reservation, decided and applied atomically in one round trip.
-- KEYS: 1 key rpm, 2 key tpm, 3 account rpm, 4 account tpm, 5 account credits, 6 reservations zset,
--       7 account credits held by open reservations, 8 account overage this period
-- ARGV: 1 now (ms), 2 key rpm limit, 3 key tpm limit, 4 account rpm limit, 5 account tpm limit
--       (a limit <= 0 means unlimited), 6 estimated tokens, 7 credits to reserve,
--       8 credit policy (1 enforce, 2 charge and bill the overage, 0 none), 9 reservation member,
--       10 reservation expiry (ms), 11 overage allowed per period under policy 2 (< 0: unlimited)
-- Billable actions (ingest API) add KEYS 9-10 and ARGV 12-18, see the block below; every call
-- passes them ('' when unused). A key with a budget adds KEYS[11] (its spend in its budget
-- window) and ARGV[19] (the budget), see the key budget block.
-- Returns: allowed, reason, remaining requests, remaining tokens, requests reset (ms),
--          tokens reset (ms), retry after (ms), balance, requests limit, tokens limit,
--          credits reserved, allowance units taken, allowance generation, duplicate's event id
-- Reasons: 0 allowed, 1 key requests, 2 key tokens, 3 account requests, 4 account tokens,
--          5 credits, 6 request larger than a tokens-per-minute limit, 7 balance not seeded,
--          8 duplicate event (its id was admitted before), 9 key budget exhausted,
--          10 key spend not seeded
local now = tonumber(ARGV[1])
local tokens_cost = tonumber(ARGV[6])
local reserve = tonumber(ARGV[7])

-- ---- Billable actions (issue 15). Proxied requests pass ARGV 12 = '', 16 = '', 18 = ''.
-- KEYS[9]  the account's allowance hash: tier -> units used this period, '@gen' -> the period's
--          generation (the period rollover bumps it and clears the counters; absent: not loaded)
-- KEYS[10] the event's idempotency key (ARGV 16 = '1'), holding the event id that was admitted
-- ARGV: 12 tier whose allowance applies ('' none: ARGV 7 is then the whole reservation),
--       13 quantity, 14 the plan's allowance of the tier per period, 15 credits per unit,
--       16 '1' to check and set KEYS[10], 17 how long (ms) KEYS[10] is held until settled,
--       18 the reservation member's tail (key:quantity:action), '' for a proxied request
-- The allowance is spent before credits: what it cannot cover is reserved at the unit price.
local tier = ARGV[12] or ''
local from_allowance, generation = 0, 0
if ARGV[16] == '1' then
  local seen = redis.call('GET', KEYS[10])
  if seen then
    return {0, 8, -1, -1, 0, 0, 0, -1, -1, -1, 0, 0, 0, seen}
  end
end
if tier ~= '' then
  local state = redis.call('HMGET', KEYS[9], tier, '@gen')
  if state[2] == false then
    -- Counters not loaded (new account, or Redis lost them): load them from Postgres first.
    return {0, 7, -1, -1, 0, 0, 0, -1, -1, -1, 0, 0, 0, ''}
  end
  local used = tonumber(state[1] or '0')
  generation = tonumber(state[2] or '0')
  local quantity = tonumber(ARGV[13])
  local left = tonumber(ARGV[14]) - used
  if left < 0 then left = 0 end
  from_allowance = math.min(quantity, left)
  reserve = (quantity - from_allowance) * tonumber(ARGV[15])
end
-- An action's member carries what settle and the sweeper need: credits held, policy, tier,
-- allowance units held and their generation, then key, quantity and action.
local member = ARGV[9]
if (ARGV[18] or '') ~= '' then
  member = ARGV[9] .. ':' .. string.format('%.0f', reserve) .. ':' .. ARGV[8] .. ':' .. tier .. ':'
      .. string.format('%.0f', from_allowance) .. ':' .. string.format('%.0f', generation) .. ':' .. ARGV[18]
end
-- ---- end of billable actions' admission inputs

-- Refill a bucket to `now` without writing; capacity = limit, refill = limit per minute.
local function peek(key, limit)
  local state = redis.call('HMGET', key, 't', 'ts')
  local level = tonumber(state[1])
  local ts = tonumber(state[2])
  if level == nil then
    return limit
  end
  local elapsed = now - ts
  if elapsed < 0 then elapsed = 0 end
  local refilled = level + elapsed * limit / 60000
  if refilled > limit then refilled = limit end
  return refilled
end

local buckets = {
  {KEYS[1], tonumber(ARGV[2]), 1, 1},
  {KEYS[2], tonumber(ARGV[3]), tokens_cost, 2},
  {KEYS[3], tonumber(ARGV[4]), 1, 3},
  {KEYS[4], tonumber(ARGV[5]), tokens_cost, 4},
}

local reason = 0
local retry = 0
local levels = {}
for i, b in ipairs(buckets) do
  local key, limit, cost, code = b[1], b[2], b[3], b[4]
  if limit > 0 then
    local level = peek(key, limit)
    levels[i] = level
    if reason == 0 then
      if cost > limit then
        reason = 6
      elseif level < cost then
        reason = code
        retry = math.ceil((cost - level) * 60000 / limit)
      end
    end
  end
end

local balance = redis.call('GET', KEYS[5])
if ARGV[8] ~= '0' and reason == 0 then
  if balance == false then
    reason = 7
  elseif ARGV[8] == '1' and tonumber(balance) < reserve then
    reason = 5
  elseif ARGV[8] == '2' and tonumber(ARGV[11]) >= 0 then
    -- Overage is capped: what the balance and the rest of the cap can still cover, less what
    -- open reservations may take, must cover this reservation.
    local used = tonumber(redis.call('GET', KEYS[8]) or '0')
    if tonumber(balance) + tonumber(ARGV[11]) - used < reserve then
      reason = 5
    end
  end
end

-- Key budget (issue 16): the key's spend in its window counts what it settled plus what its open
-- reservations hold, so concurrent requests of one key can never together pass its budget. It is
-- checked after the balance (an account out of credits says so first) and only for a key that has
-- a budget (KEYS[11] present). A missing counter (first use, or Redis lost it) is seeded by the
-- caller from Postgres and the admission retried, as for the balance.
if reason == 0 and #KEYS >= 11 then
  local spent = redis.call('GET', KEYS[11])
  if spent == false then
    reason = 10
  elseif tonumber(spent) + reserve > tonumber(ARGV[19]) then
    reason = 9
  end
end

-- Report the tightest request and token buckets, as they are after this decision.
local rem_req, lim_req, reset_req = -1, -1, 0
local rem_tok, lim_tok, reset_tok = -1, -1, 0
for i, b in ipairs(buckets) do
  local limit, cost = b[2], b[3]
  if limit > 0 then
    local after = levels[i]
    if reason == 0 then after = after - cost end
    local reset = math.ceil((limit - after) * 60000 / limit)
    if i % 2 == 1 then
      if rem_req < 0 or after < rem_req then rem_req, lim_req, reset_req = after, limit, reset end
    else
      if rem_tok < 0 or after < rem_tok then rem_tok, lim_tok, reset_tok = after, limit, reset end
    end
  end
end

if reason == 0 then
  for i, b in ipairs(buckets) do
    local key, limit, cost = b[1], b[2], b[3]
    if limit > 0 then
      redis.call('HSET', key, 't', tostring(levels[i] - cost), 'ts', tostring(now))
      -- A bucket untouched for two minutes is full again: let it expire.
      redis.call('PEXPIRE', key, 120000)
    end
  end
  if reserve > 0 and ARGV[8] ~= '0' then
    balance = redis.call('DECRBY', KEYS[5], reserve)
    if ARGV[8] == '2' then
      redis.call('INCRBY', KEYS[7], reserve)
    end
  end
  redis.call('ZADD', KEYS[6], tonumber(ARGV[10]), member)
  -- Billable actions: take the allowance units, and hold the event's id until it is settled.
  if from_allowance > 0 then
    redis.call('HINCRBY', KEYS[9], tier, from_allowance)
  end
  if ARGV[16] == '1' then
    redis.call('SET', KEYS[10], string.match(ARGV[9], '^[^:]+'), 'PX', ARGV[17])
  end
  if #KEYS >= 11 and reserve > 0 then
    -- The key budget's hold; settle.lua turns it into the actual cost, sweep.lua gives it back.
    redis.call('INCRBY', KEYS[11], reserve)
  end
end

if balance == false then balance = -1 end
return {reason == 0 and 1 or 0, reason, math.floor(rem_req), math.floor(rem_tok), reset_req, reset_tok,
        retry, tonumber(balance), lim_req, lim_tok, reserve, from_allowance, generation, ''}
