-- Version 12 (issue 16): refunds of subscription invoices, notices by email, budgets per API key.

-- A subscription invoice whose charge was refunded (charge.refunded): the refunded amount so far
-- (Stripe's amount_refunded is cumulative) and when the latest refund was applied.
ALTER TABLE stripe_invoices ADD COLUMN amount_refunded bigint NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0);
ALTER TABLE stripe_invoices ADD COLUMN refunded_at timestamptz;
