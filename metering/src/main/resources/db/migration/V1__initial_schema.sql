-- Tollgate schema, version 1: the tables DESIGN.md names.
-- Money is integer credits (bigint) everywhere: no floating point.

CREATE TABLE accounts (
    id                   bigserial PRIMARY KEY,
    name                 text        NOT NULL,
    plan                 text        NOT NULL DEFAULT 'free',
    billing_mode         text        NOT NULL DEFAULT 'prepaid'
                         CHECK (billing_mode IN ('prepaid', 'postpaid', 'hybrid')),
    status               text        NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'trialing', 'past_due', 'suspended', 'canceled')),
    stripe_customer_id   text UNIQUE,
    spend_cap            bigint CHECK (spend_cap IS NULL OR spend_cap >= 0),
    -- Per-account overrides of the plan's limits; NULL means "the plan's".
    requests_per_minute  bigint CHECK (requests_per_minute IS NULL OR requests_per_minute >= 0),
    tokens_per_minute    bigint CHECK (tokens_per_minute IS NULL OR tokens_per_minute >= 0),
    alert_webhook_url    text,
    -- Which usage-stream shard (Redis hash tag) this account's keys live in; fixed at creation.
    usage_shard          smallint    NOT NULL DEFAULT 0,
    period_start         timestamptz NOT NULL DEFAULT date_trunc('month', now()),
    period_end           timestamptz NOT NULL DEFAULT date_trunc('month', now()) + interval '1 month',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id                   bigserial PRIMARY KEY,
    account_id           bigint      NOT NULL REFERENCES accounts (id),
    prefix               text        NOT NULL,               -- e.g. tg_live_ (shown in listings)
    key_hash             bytea       NOT NULL UNIQUE          -- SHA-256 of the whole key; the key itself is never stored
                         CHECK (octet_length(key_hash) = 32),
    last4                text        NOT NULL,
    name                 text,
    scopes               jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- allowed route prefixes and models
    requests_per_minute  bigint,
    tokens_per_minute    bigint,
    created_at           timestamptz NOT NULL DEFAULT now(),
    expires_at           timestamptz,
    last_used_at         timestamptz,
    revoked_at           timestamptz,
    replaced_by          bigint REFERENCES api_keys (id)
);
CREATE INDEX api_keys_account ON api_keys (account_id);

-- Usage events, partitioned by month so old months can be detached and archived cheaply.
-- A partitioned table's unique keys must include the partition key, so uniqueness of event_id
-- alone is enforced by usage_event_ids below: writers insert the id there first
-- (ON CONFLICT (event_id) DO NOTHING RETURNING event_id) and insert into usage_events only the
-- ids that came back, in the same transaction. That gives ON CONFLICT (event_id) semantics
-- across all partitions.
CREATE TABLE usage_events (
    event_id             uuid        NOT NULL,
    account_id           bigint      NOT NULL,
    key_id               bigint,
    route                text        NOT NULL,
    model                text,
    input_tokens         bigint      NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens        bigint      NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    credits              bigint      NOT NULL DEFAULT 0 CHECK (credits >= 0),
    status               integer     NOT NULL,
    upstream_latency_ms  integer,
    estimated            boolean     NOT NULL DEFAULT false,
    occurred_at          timestamptz NOT NULL,
    PRIMARY KEY (event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX usage_events_account_time ON usage_events (account_id, occurred_at);

CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT;

CREATE TABLE usage_event_ids (
    event_id             uuid        PRIMARY KEY,
    occurred_at          timestamptz NOT NULL
);

-- Creates the monthly partitions from the current month to months_ahead months later; idempotent,
-- so startup and a scheduler can both call it. Returns how many partitions it created.
CREATE FUNCTION ensure_usage_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month_start date;
    created     integer := 0;
    part_name   text;
BEGIN
    FOR i IN 0..months_ahead LOOP
        month_start := (date_trunc('month', now()) + make_interval(months => i))::date;
        part_name := 'usage_events_' || to_char(month_start, 'YYYY_MM');
        IF to_regclass(part_name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF usage_events FOR VALUES FROM (%L) TO (%L)',
                           part_name, month_start, (month_start + interval '1 month')::date);
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;

SELECT ensure_usage_partitions(1);

CREATE TABLE usage_rollups_hourly (
    account_id           bigint      NOT NULL,
    key_id               bigint      NOT NULL DEFAULT 0,     -- 0 when the event had no key
    route                text        NOT NULL,
    model                text        NOT NULL DEFAULT '',
    hour                 timestamptz NOT NULL,
    requests             bigint      NOT NULL DEFAULT 0,
    input_tokens         bigint      NOT NULL DEFAULT 0,
    output_tokens        bigint      NOT NULL DEFAULT 0,
    credits              bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, hour, key_id, route, model)
);

-- The credit ledger: the authority for balances (Redis holds the hot copy and is rebuilt from it).
CREATE TABLE credit_transactions (
    id                   bigserial PRIMARY KEY,
    account_id           bigint      NOT NULL REFERENCES accounts (id),
    amount               bigint      NOT NULL,               -- + grant, − debit/adjustment
    kind                 text        NOT NULL
                         CHECK (kind IN ('grant', 'adjustment', 'usage', 'top_up', 'period_grant', 'refund', 'expiry')),
    reason               text,
    -- Makes grants from webhooks, top-ups and periods exactly-once.
    idempotency_key      text UNIQUE,
    actor                text,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_transactions_account ON credit_transactions (account_id, created_at);

-- Stripe outbox: one row per meter event to send; identifier is Stripe's dedup key.
CREATE TABLE stripe_meter_outbox (
    id                   bigserial PRIMARY KEY,
    batch_id             uuid        NOT NULL,
    stripe_customer_id   text        NOT NULL,
    event_name           text        NOT NULL,
    value                bigint      NOT NULL CHECK (value >= 0),
    window_start         timestamptz NOT NULL,
    window_end           timestamptz NOT NULL,
    identifier           text        NOT NULL UNIQUE CHECK (char_length(identifier) <= 100),
    status               text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts             integer     NOT NULL DEFAULT 0,
    last_error           text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    sent_at              timestamptz
);
CREATE INDEX stripe_meter_outbox_pending ON stripe_meter_outbox (created_at) WHERE status = 'pending';

-- Stripe webhook events, stored by Stripe's id: a redelivery is a no-op insert.
CREATE TABLE stripe_events (
    id                   text PRIMARY KEY,
    type                 text        NOT NULL,
    payload              jsonb       NOT NULL,
    stripe_created       timestamptz NOT NULL,
    received_at          timestamptz NOT NULL DEFAULT now(),
    status               text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'parked')),
    attempts             integer     NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz NOT NULL DEFAULT now(),
    last_error           text,
    processed_at         timestamptz
);
CREATE INDEX stripe_events_due ON stripe_events (next_attempt_at) WHERE status = 'pending';

CREATE TABLE notifications (
    id                   bigserial PRIMARY KEY,
    account_id           bigint      NOT NULL REFERENCES accounts (id),
    kind                 text        NOT NULL,               -- usage_threshold, low_balance, payment_failed, ...
    threshold            integer     NOT NULL DEFAULT 0,     -- percent, or 0 where not applicable
    period_start         timestamptz NOT NULL,
    payload              jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at           timestamptz NOT NULL DEFAULT now(),
    read_at              timestamptz,
    delivery_status      text        NOT NULL DEFAULT 'pending' CHECK (delivery_status IN ('pending', 'delivered', 'failed', 'none')),
    delivery_attempts    integer     NOT NULL DEFAULT 0,
    -- A threshold fires once per account and period, whichever instance sees it first.
    UNIQUE (account_id, kind, threshold, period_start)
);

CREATE TABLE audit_log (
    id                   bigserial PRIMARY KEY,
    actor                text        NOT NULL,
    action               text        NOT NULL,
    resource_type        text        NOT NULL,
    resource_id          text,
    ip                   inet,
    before               jsonb,
    after                jsonb,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_time ON audit_log (created_at);
CREATE INDEX audit_log_resource ON audit_log (resource_type, resource_id, created_at);
CREATE INDEX audit_log_actor ON audit_log (actor, created_at);
