-- Version 3: Stripe meter sync. Usage rows are claimed into an outbox batch exactly once
-- (stripe_batch set in the transaction that writes the batch's outbox rows), and outbox rows
-- are sent with leased retries.

ALTER TABLE usage_events ADD COLUMN stripe_batch uuid;
-- The rows still to be cut into a batch; small, because rows leave it as they are claimed.
CREATE INDEX usage_events_unsynced ON usage_events (account_id) WHERE stripe_batch IS NULL;

ALTER TABLE stripe_meter_outbox ADD COLUMN account_id bigint;
ALTER TABLE stripe_meter_outbox ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE stripe_meter_outbox ADD COLUMN event_timestamp timestamptz;
UPDATE stripe_meter_outbox SET event_timestamp = window_end WHERE event_timestamp IS NULL;
ALTER TABLE stripe_meter_outbox ALTER COLUMN event_timestamp SET NOT NULL;
CREATE INDEX stripe_meter_outbox_due ON stripe_meter_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX stripe_meter_outbox_dead ON stripe_meter_outbox (created_at) WHERE status = 'dead';

-- Reconciliation runs: what Postgres and Stripe said per customer, meter and day.
CREATE TABLE stripe_reconciliations (
    id                   bigserial PRIMARY KEY,
    started_at           timestamptz NOT NULL DEFAULT now(),
    range_start          timestamptz NOT NULL,
    range_end            timestamptz NOT NULL,
    report               jsonb       NOT NULL,
    max_drift_percent    numeric     NOT NULL DEFAULT 0
);
