-- Version 2: what the metering pipeline needs beyond storing events — each event's outcome,
-- billing periods closed exactly once, usage threshold alerts with webhook delivery, and a
-- partition function that several instances may call at once.

-- How a request ended (ok, upstream_error, client_aborted, ...): explains a refund or an estimate.
ALTER TABLE usage_events ADD COLUMN outcome text NOT NULL DEFAULT 'ok';

-- Alert thresholds in percent of the period's included credits (or of the spend cap);
-- NULL means the plan's. low_balance_credits: prepaid accounts are told when their spendable
-- credits fall below it; NULL means never.
ALTER TABLE accounts ADD COLUMN alert_thresholds integer[]
    CHECK (alert_thresholds IS NULL OR (0 < ALL (alert_thresholds) AND 1000 >= ALL (alert_thresholds)));
ALTER TABLE accounts ADD COLUMN low_balance_credits bigint
    CHECK (low_balance_credits IS NULL OR low_balance_credits >= 0);

-- Webhook delivery of notifications, retried with backoff until delivered or given up.
ALTER TABLE notifications ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE notifications ADD COLUMN last_error text;
ALTER TABLE notifications ADD COLUMN delivered_at timestamptz;
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE delivery_status = 'pending';
CREATE INDEX notifications_account ON notifications (account_id, created_at);

-- One row per closed billing period: written by whichever instance rolls the account over first,
-- in the same transaction as the period change, so a rollover happens exactly once.
CREATE TABLE billing_periods (
    account_id           bigint      NOT NULL REFERENCES accounts (id),
    period_start         timestamptz NOT NULL,
    period_end           timestamptz NOT NULL,
    requests             bigint      NOT NULL,
    credits_used         bigint      NOT NULL,
    included_expired     bigint      NOT NULL DEFAULT 0,   -- unused included credits that lapsed
    closed_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, period_start)
);
CREATE INDEX accounts_period_end ON accounts (period_end);

-- Same contract as version 1, serialised by an advisory lock so that several instances creating
-- next month's partition at the same moment do not collide.
CREATE OR REPLACE FUNCTION ensure_usage_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month_start date;
    created     integer := 0;
    part_name   text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('tollgate.ensure_usage_partitions'));
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

SELECT ensure_usage_partitions(2);
