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
