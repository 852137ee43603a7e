-- Version 4: Stripe subscriptions, webhook processing, invoices and auto top-up.

-- An account's Stripe side, one row per account that has one. accounts.plan and accounts.status
-- stay the hot path's truth; this row is what Stripe last said and what dunning needs.
CREATE TABLE account_billing (
    account_id              bigint      PRIMARY KEY REFERENCES accounts (id),
    email                   text,
    stripe_subscription_id  text,
    -- Stripe's own status: trialing, active, past_due, unpaid, canceled, incomplete, incomplete_expired, paused.
    subscription_status     text,
    subscription_prices     text[]      NOT NULL DEFAULT '{}',
    cancel_at_period_end    boolean     NOT NULL DEFAULT false,
    current_period_end      timestamptz,
    trial_end               timestamptz,
    -- `created` of the newest subscription event applied: an older event never overwrites newer state.
    subscription_event_at   timestamptz,
    -- Past due since a failed payment: the plan is kept until then, and the free plan applies after.
    grace_until             timestamptz,
    default_payment_method  text,
    payment_method_event_at timestamptz,
    auto_top_up_pack        text,
    auto_top_up_threshold   bigint CHECK (auto_top_up_threshold IS NULL OR auto_top_up_threshold >= 0),
    -- Set when an automatic top-up fails; cleared when the payment method changes or an admin re-enables it.
    auto_top_up_paused      boolean     NOT NULL DEFAULT false,
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX account_billing_subscription ON account_billing (stripe_subscription_id) WHERE stripe_subscription_id IS NOT NULL;
CREATE INDEX account_billing_grace ON account_billing (grace_until) WHERE grace_until IS NOT NULL;

-- Webhook processing: when it was last tried, and the account it concerned (for listings).
ALTER TABLE stripe_events ADD COLUMN last_attempt_at timestamptz;
ALTER TABLE stripe_events ADD COLUMN account_id bigint;
ALTER TABLE stripe_events ADD COLUMN outcome text;
CREATE INDEX stripe_events_status ON stripe_events (status, received_at);

-- Invoices as Stripe last described them (invoice.* events, or a refresh from the API).
CREATE TABLE stripe_invoices (
    id                   text        PRIMARY KEY,
    account_id           bigint      REFERENCES accounts (id),
    stripe_customer_id   text        NOT NULL,
    subscription_id      text,
    status               text        NOT NULL,
    billing_reason       text,
    amount_due           bigint      NOT NULL DEFAULT 0,
    amount_paid          bigint      NOT NULL DEFAULT 0,
    currency             text        NOT NULL DEFAULT 'usd',
    hosted_invoice_url   text,
    invoice_pdf          text,
    period_start         timestamptz,
    period_end           timestamptz,
    created              timestamptz NOT NULL,
    -- `created` of the event that wrote this row; older events do not overwrite it.
    event_at             timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_invoices_account ON stripe_invoices (account_id, created DESC);

-- Automatic top-ups: at most one in flight per account (the partial unique index), each charged
-- with its own idempotency key, so a retry after a crash charges once.
CREATE TABLE top_ups (
    id                   bigserial   PRIMARY KEY,
    account_id           bigint      NOT NULL REFERENCES accounts (id),
    pack                 text        NOT NULL,
    credits              bigint      NOT NULL CHECK (credits > 0),
    amount               bigint      NOT NULL CHECK (amount > 0),
    currency             text        NOT NULL,
    status               text        NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'succeeded', 'failed')),
    balance_at_trigger   bigint      NOT NULL,
    payment_intent_id    text,
    last_error           text,
    attempts             integer     NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    finished_at          timestamptz
);
CREATE UNIQUE INDEX top_ups_one_in_flight ON top_ups (account_id) WHERE status = 'processing';
CREATE INDEX top_ups_account ON top_ups (account_id, created_at DESC);
