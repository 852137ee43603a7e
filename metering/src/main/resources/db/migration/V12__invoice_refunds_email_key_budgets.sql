-- Version 12 (issue 16): refunds of subscription invoices, notices by email, budgets per API key.

-- A subscription invoice whose charge was refunded (charge.refunded): the refunded amount so far
-- (Stripe's amount_refunded is cumulative) and when the latest refund was applied.
ALTER TABLE stripe_invoices ADD COLUMN amount_refunded bigint NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0);
ALTER TABLE stripe_invoices ADD COLUMN refunded_at timestamptz;

-- Notifications by email. Who an account's notices are mailed to, and which kinds it opted out of
-- (no row: the Stripe customer's email from account_billing, every kind).
CREATE TABLE account_email_settings (
    account_id   bigint      PRIMARY KEY REFERENCES accounts (id),
    recipients   text[]      NOT NULL DEFAULT '{}',
    opt_outs     text[]      NOT NULL DEFAULT '{}',
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Each notification's email, beside its webhook delivery: none (not mailed: mail off, a kind for the
-- operator, or no recipient), pending, sending (claimed by one instance), sent, failed or skipped
-- (opted out, or no recipient by the time it was due). A claim is committed before the SMTP
-- exchange and never retaken, so an instance that dies mid-send never causes a second mail.
ALTER TABLE notifications ADD COLUMN email_status text NOT NULL DEFAULT 'none'
    CHECK (email_status IN ('none', 'pending', 'sending', 'sent', 'failed', 'skipped'));
ALTER TABLE notifications ADD COLUMN email_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN email_next_attempt_at timestamptz;
ALTER TABLE notifications ADD COLUMN email_claimed_at timestamptz;
ALTER TABLE notifications ADD COLUMN email_sent_at timestamptz;
ALTER TABLE notifications ADD COLUMN email_recipients text[];
ALTER TABLE notifications ADD COLUMN email_error text;
CREATE INDEX notifications_email_due ON notifications (email_next_attempt_at) WHERE email_status = 'pending';

-- Budgets per API key: at most budget_credits (units: millicredits, as every credit column since
-- V10) per billing period of the account
-- ('period') or over the key's life ('lifetime'); NULL: no budget. Enforced on the hot path with
-- the account's balance (admit.lua). budget_of: the key whose spend this one continues — a key
-- made by rotation shares its predecessor's spend, so rotating never resets a budget.
ALTER TABLE api_keys ADD COLUMN budget_credits bigint CHECK (budget_credits IS NULL OR budget_credits >= 0);
ALTER TABLE api_keys ADD COLUMN budget_period text CHECK (budget_period IS NULL OR budget_period IN ('period', 'lifetime'));
ALTER TABLE api_keys ADD COLUMN budget_of bigint REFERENCES api_keys (id);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_budget_whole CHECK ((budget_credits IS NULL) = (budget_period IS NULL));
-- Seeding a key's spend after Redis lost it sums the key's usage: by key, in time.
CREATE INDEX usage_events_key_time ON usage_events (key_id, occurred_at) WHERE key_id IS NOT NULL;
