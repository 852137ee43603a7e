-- Version 10: exact fractional credits. Every credit-valued column becomes a count of units, the
-- millicredit (1 credit = 1000 units, io.tollgate.config.Credits), still bigint: no floating point.
-- Each value is multiplied by 1000, so no account's balance, cap, threshold or history changes in
-- credits. One transaction (Flyway runs a PostgreSQL migration in one): either every column is
-- converted or none. A value whose ×1000 overflows bigint fails the migration instead of wrapping.
--
-- Not converted, on purpose: stripe_meter_outbox.value (what Stripe's meter received, which stays
-- whole credits), notifications.threshold (percent), amounts of money (top_ups.amount,
-- credit_purchases.amount, stripe_invoices.*: the currency's smallest unit), and JSON documents
-- (audit_log, notifications.payload, stripe_reconciliations.report), which show credits as
-- decimal numbers before and after this version alike.
--
-- Redis: the hot balances are read under new key names from this version on (RedisKeys, ":mc"), so
-- an old whole-credit balance is never read as units; each is reloaded from this ledger.

UPDATE accounts SET spend_cap = spend_cap * 1000 WHERE spend_cap IS NOT NULL;
UPDATE accounts SET low_balance_credits = low_balance_credits * 1000 WHERE low_balance_credits IS NOT NULL;

UPDATE credit_transactions SET amount = amount * 1000;

UPDATE usage_events SET credits = credits * 1000, overage_credits = overage_credits * 1000
WHERE credits <> 0 OR overage_credits <> 0;
UPDATE usage_rollups_hourly SET credits = credits * 1000 WHERE credits <> 0;
UPDATE billing_periods SET credits_used = credits_used * 1000, included_expired = included_expired * 1000;

UPDATE account_billing SET auto_top_up_threshold = auto_top_up_threshold * 1000 WHERE auto_top_up_threshold IS NOT NULL;
UPDATE top_ups SET credits = credits * 1000, balance_at_trigger = balance_at_trigger * 1000;
UPDATE credit_purchases SET credits = credits * 1000;

-- The Stripe meter takes whole numbers. An outbox row now also records the exact units of usage its
-- batch claimed; its value is whole credits. What a batch's usage adds beyond whole credits is carried
-- here, per account, customer and meter event, into the next batch (MeterOutbox): Stripe receives
-- floor(all metered usage) and never more, and the remainder (< 1 credit) goes with the usage that
-- makes it whole.
ALTER TABLE stripe_meter_outbox ADD COLUMN units bigint CHECK (units IS NULL OR units >= 0);
UPDATE stripe_meter_outbox SET units = value * 1000;

CREATE TABLE stripe_meter_carry (
    account_id           bigint      NOT NULL,
    stripe_customer_id   text        NOT NULL,
    event_name           text        NOT NULL,
    units                bigint      NOT NULL CHECK (units >= 0 AND units < 1000),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, stripe_customer_id, event_name)
);
